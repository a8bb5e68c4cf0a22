package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"

	"github.com/authgate/caddy-authgate/token"
)

// dummyAssertionKeys are keys of every kind that no client holds. An
// assertion of an unknown client (or of one without keys) is verified
// against them, so that it costs what a wrong signature of a known client
// costs and time does not tell which client ids exist.
var dummyAssertionKeys = sync.OnceValue(func() *token.KeySet {
	var keys []*token.Key
	add := func(pub crypto.PublicKey, err error) {
		if err != nil {
			return
		}
		if k, err := token.NewKey("", "", pub, "dummy"); err == nil {
			keys = append(keys, k)
		}
	}
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		add(pubOf(k, err))
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	add(pubOf(rk, err))
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	add(pub, err)
	secret := make([]byte, 64)
	_, err = rand.Read(secret)
	add(secret, err)
	return token.NewKeySet(keys...)
})

func pubOf[K interface{ Public() crypto.PublicKey }](k K, err error) (crypto.PublicKey, error) {
	if err != nil {
		return nil, err
	}
	return k.Public(), nil
}

// verifyDummyAssertion does the work of a refused assertion.
func (i *Issuer) verifyDummyAssertion(cr *clientCredentials, algs []string) {
	policy := token.Policy{Algorithms: algs, MaxTokenBytes: maxAssertionBytes}
	keys := dummyAssertionKeys()
	_, _ = token.VerifySignature(cr.ctx, cr.assertion, &policy, func(string) (token.KeyResolver, error) { return keys, nil })
}
