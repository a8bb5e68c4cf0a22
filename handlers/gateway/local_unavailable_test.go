package gateway

import (
	"testing"

	"github.com/authgate/caddy-authgate/token"
)

// TestLocalIssuerStoreDown: an issuer whose shared store has been down past
// its grace refuses admission with ReasonKeysUnavailable; the gateway
// answers 503 with Retry-After (fail closed, the client may retry), not 401.
func TestLocalIssuerStoreDown(t *testing.T) {
	s, set := ecFixture(t)
	local := &fakeLocal{set: set}
	g := newGateway(t, token.NewKeySet(), func(c *Config) { c.Keys = nil; c.Local = locals{local} })
	tok := s.sign(t, baseClaims(nil))
	if _, e := g.Authorize(request(tok), loopback); e != nil {
		t.Fatal(e)
	}
	local.admitErr = &token.Error{Reason: token.ReasonKeysUnavailable, Description: "store down"}
	_, e := g.Authorize(request(tok), loopback)
	if e == nil || e.Status != 503 || e.RetryAfter <= 0 || e.Reason != string(token.ReasonKeysUnavailable) {
		t.Fatalf("store down: %+v, want 503 keys_unavailable with Retry-After", e)
	}
}
