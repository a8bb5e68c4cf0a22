package testutil

import (
	"encoding/json"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// PublicJWK renders a public key as a provider publishes it, through jwx,
// with kid, alg and use set where not "".
func PublicJWK(t testing.TB, pub any, kid, alg, use string) json.RawMessage {
	t.Helper()
	k, err := jwk.Import(pub)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: use} {
		if v == "" {
			continue
		}
		if err := k.Set(name, v); err != nil {
			t.Fatalf("jwk %s: %v", name, err)
		}
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// JWKS is the key set document {"keys":[...]} of keys, in order.
func JWKS(keys ...json.RawMessage) []byte {
	if keys == nil {
		keys = []json.RawMessage{}
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}
