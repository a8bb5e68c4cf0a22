package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// DPoPKey is a DPoP client's ES256 key. Its proofs are signed with jwx's
// jws.Sign and its thumbprint computed by jwx: not authgate's code, which
// the tests check against them.
type DPoPKey struct {
	Private *ecdsa.PrivateKey
	Public  jwk.Key
	// JKT is the RFC 7638 SHA-256 thumbprint, base64url (cnf.jkt).
	JKT string
}

// NewDPoPKey generates a DPoP key.
func NewDPoPKey(t testing.TB) *DPoPKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.Import(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &DPoPKey{Private: priv, Public: pub, JKT: b64.EncodeToString(tp)}
}

// Proof signs a DPoP proof for method and htu at iat, with a random jti;
// tok, when set, gives the ath claim. over replaces claims (a nil value
// deletes one).
func (k *DPoPKey) Proof(t testing.TB, method, htu, tok string, iat time.Time, over map[string]any) string {
	t.Helper()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := map[string]any{"jti": b64.EncodeToString(jti), "htm": method, "htu": htu, "iat": iat.Unix()}
	if tok != "" {
		sum := sha256.Sum256([]byte(tok))
		claims["ath"] = b64.EncodeToString(sum[:])
	}
	for name, v := range over {
		if v == nil {
			delete(claims, name)
		} else {
			claims[name] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set("typ", "dpop+jwt"); err != nil {
		t.Fatal(err)
	}
	if err := hdr.Set("jwk", k.Public); err != nil {
		t.Fatal(err)
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), k.Private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
