package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"testing"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

type testKeys struct {
	ec    *ecdsa.PrivateKey
	rsa   *rsa.PrivateKey
	ed    ed25519.PrivateKey
	hmac  []byte
	other *ecdsa.PrivateKey // not trusted
}

var sharedTestKeys *testKeys

func newTestKeys(t testing.TB) *testKeys {
	t.Helper()
	if sharedTestKeys != nil {
		return sharedTestKeys
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	h := make([]byte, 32)
	rand.Read(h)
	sharedTestKeys = &testKeys{ec: ec, rsa: rk, ed: ed, hmac: h, other: other}
	return sharedTestKeys
}

func (k *testKeys) set(t testing.TB) *KeySet {
	t.Helper()
	mk := func(id, alg string, m any) *Key {
		key, err := NewKey(id, alg, m, "test")
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	return NewKeySet(
		mk("ec1", "", &k.ec.PublicKey),
		mk("rsa1", "", &k.rsa.PublicKey),
		mk("ed1", "", k.ed.Public()),
		mk("hs1", "", k.hmac),
	)
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signRaw builds a compact JWS from raw header and payload JSON.
func signRaw(t testing.TB, alg string, key any, header, payload string) string {
	t.Helper()
	tok, err := testutil.SignRaw(key, alg, []byte(header), []byte(payload))
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return tok
}
