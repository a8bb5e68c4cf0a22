package issuer

import (
	"context"
	"testing"

	"github.com/authgate/caddy-authgate/token"
)

// `keys rotate --now` rotates every key set of the issuer: its signing
// keys, the keys of clients with another signing_alg and the RS256
// ID-token keys. (Before, only the first rotated: after a rotation meant to
// retire a suspect key, the others went on signing with theirs.)
func TestRotateKeysNowRotatesEveryKeySet(t *testing.T) {
	e := newSignInEnv(t, func(c *Config) {
		c.Clients = append(c.Clients, ClientConfig{ID: "rsa", Secrets: []SecretConfig{{Plain: "rsa-secret"}}, SigningAlg: token.RS256})
	})
	ctx := context.Background()
	sets := []string{e.iss.iss + "#" + token.RS256, e.iss.iss + idKeyScope}
	count := func(set string) (pending, all int) {
		recs, err := e.store.SigningKeys(ctx, set)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range recs {
			if signingKeyState(k, e.clock.Now()) == "pending" {
				pending++
			}
		}
		return pending, len(recs)
	}
	for _, set := range sets {
		if _, all := count(set); all == 0 {
			t.Fatalf("no keys in %s before the rotation", set)
		}
	}
	if _, err := e.iss.RotateKeysNow(ctx); err != nil {
		t.Fatal(err)
	}
	for _, set := range sets {
		if pending, _ := count(set); pending != 1 {
			t.Errorf("%s: %d pending keys after keys rotate --now, want 1", set, pending)
		}
	}
	// After the lead every set signs with its new key; a second rotation
	// starts again for all of them.
	e.clock.Advance(e.iss.JWKSMaxAge())
	if _, err := e.iss.RotateKeysNow(ctx); err != nil {
		t.Fatal(err)
	}
	for _, set := range sets {
		if pending, _ := count(set); pending != 1 {
			t.Errorf("%s: %d pending keys after the second rotation, want 1", set, pending)
		}
	}
}
