package testutil

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

var b64 = base64.RawURLEncoding

// SignRaw returns the compact JWS of the header and payload bytes as they
// are (malformed JSON included), signed with key under alg.
func SignRaw(key any, alg string, header, payload []byte) (string, error) {
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sig, err := jwsbb.Sign(key, alg, []byte(input), nil)
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// SignJWT returns the compact JWS of claims (anything encoding/json takes)
// under header, signed with key under header["alg"]. It does not fail t, so
// traffic goroutines may call it.
func SignJWT(key any, header map[string]string, claims any) (string, error) {
	hdr, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return SignRaw(key, header["alg"], hdr, payload)
}

// MustSignJWT is SignJWT that fails t.
func MustSignJWT(t testing.TB, key any, header map[string]string, claims any) string {
	t.Helper()
	tok, err := SignJWT(key, header, claims)
	if err != nil {
		t.Fatalf("sign %s: %v", header["alg"], err)
	}
	return tok
}

// DecodeJWT returns a compact JWT's header and claims, unverified.
func DecodeJWT(t testing.TB, tok string) (hdr, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	for i, dst := range []*map[string]any{&hdr, &claims} {
		raw, err := b64.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, claims
}
