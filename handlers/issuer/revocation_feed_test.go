package issuer

import (
	"context"
	"net/url"
	"testing"

	"github.com/authgate/caddy-authgate/store"
)

// countingStore counts the revocations the store hands the issuer.
type countingStore struct {
	Store
	read int
}

func (c *countingStore) RevocationsSince(ctx context.Context, cur store.RevocationCursor) ([]store.Revocation, store.RevocationCursor, error) {
	revs, next, err := c.Store.RevocationsSince(ctx, cur)
	c.read += len(revs)
	return revs, next, err
}

// TestRevocationFeedBetweenInstances: an instance learns a revocation made
// by another instance on the same store at its next reload, and a reload
// reads only what is new (the store's feed), not every revocation again.
func TestRevocationFeedBetweenInstances(t *testing.T) {
	a := newEnv(t, nil)
	cs := &countingStore{Store: a.store}
	b := newEnvOn(t, a.store, a.clock, func(c *Config) { c.Store = cs })

	tok1 := a.token("app", "app-secret", nil)
	tok2 := a.token("app", "app-secret", nil)
	for _, tok := range []string{tok1, tok2} {
		if r := a.do("POST", "/oauth/revoke", url.Values{"token": {tok}}, "app", "app-secret"); r.status != 200 {
			t.Fatalf("revoke: %d %s", r.status, r.raw)
		}
	}
	_, c1 := decodeJWT(t, tok1)
	jti := c1["jti"].(string)
	if b.iss.revoked.has(jti, a.clock.Now().Unix()) {
		t.Fatal("instance b knew the revocation before reloading")
	}
	before := cs.read
	if err := b.iss.loadRevocations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !b.iss.revoked.has(jti, a.clock.Now().Unix()) {
		t.Fatal("instance b did not learn the revocation from the store")
	}
	if got := cs.read - before; got != 2 {
		t.Fatalf("reload read %d revocations, want the 2 new ones", got)
	}
	before = cs.read
	if err := b.iss.loadRevocations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := cs.read - before; got != 0 {
		t.Fatalf("a reload without news read %d revocations, want 0", got)
	}
}
