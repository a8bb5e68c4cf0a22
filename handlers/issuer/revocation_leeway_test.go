package issuer

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/token"
)

type oneLocal struct{ l gateway.LocalIssuer }

func (o oneLocal) ByURL(u string) gateway.LocalIssuer {
	if u == o.l.IssuerURL() {
		return o.l
	}
	return nil
}
func (o oneLocal) All() []gateway.LocalIssuer { return []gateway.LocalIssuer{o.l} }

// A revoked JWT stays refused by an in-process gateway with the largest
// leeway between exp and exp + leeway, in memory and after a restart that
// reloads the revocations from the store.
func TestRevokedJWTRefusedWithinGatewayLeeway(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AccessTokenTTL = time.Minute })
	tok := e.token("app", "app-secret", nil)
	if r := e.do("POST", "/oauth/revoke", url.Values{"token": {tok}}, "app", "app-secret"); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	_, claims := decodeJWT(t, tok)
	exp := time.Unix(int64(claims["exp"].(float64)), 0)

	gw := func(iss *Issuer) *gateway.Gateway {
		g, err := gateway.New(gateway.Config{
			Policy: token.Policy{Issuers: []string{testIss}, Leeway: token.MaxLeeway},
			Local:  oneLocal{iss},
			Now:    e.clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	authorize := func(g *gateway.Gateway) *gateway.Error {
		r := httptest.NewRequest("GET", "/api", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, gerr := g.Authorize(r, netip.MustParseAddr("10.1.2.3"))
		return gerr
	}
	g := gw(e.iss)
	for _, at := range []time.Duration{-time.Second, time.Second, 5 * time.Minute, token.MaxLeeway - time.Second} {
		e.clock.t = exp.Add(at)
		if authorize(g) == nil {
			t.Fatalf("revoked token accepted at exp%+v with leeway %s", at, token.MaxLeeway)
		}
		// A restarted issuer on the same store knows the revocation too.
		restarted := newEnvOn(t, e.store, e.clock, func(c *Config) { c.AccessTokenTTL = time.Minute })
		if authorize(gw(restarted.iss)) == nil {
			t.Fatalf("revoked token accepted at exp%+v after a restart", at)
		}
	}
	// The store keeps the record until exp + MaxLeeway.
	e.clock.t = exp.Add(token.MaxLeeway - time.Second)
	revs, _, err := e.store.RevocationsSince(context.Background(), "")
	if err != nil || len(revs) != 1 || !revs[0].Until.Equal(exp.Add(token.MaxLeeway)) {
		t.Fatalf("store revocations %v %v, want one until exp+%s", revs, err, token.MaxLeeway)
	}
}

// A JWT revoked after its exp but while a gateway still accepts it (within
// exp + leeway) is revoked, not ignored as expired: otherwise a stolen token
// stays usable for the rest of the leeway whatever its client does.
func TestRevokeAfterExpWithinGatewayLeeway(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AccessTokenTTL = time.Minute })
	tok := e.token("app", "app-secret", nil)
	_, claims := decodeJWT(t, tok)
	exp := time.Unix(int64(claims["exp"].(float64)), 0)
	g, err := gateway.New(gateway.Config{
		Policy: token.Policy{Issuers: []string{testIss}, Leeway: token.DefaultLeeway},
		Local:  oneLocal{e.iss},
		Now:    e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	authorize := func() *gateway.Error {
		r := httptest.NewRequest("GET", "/api", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, gerr := g.Authorize(r, netip.MustParseAddr("10.1.2.3"))
		return gerr
	}
	e.clock.t = exp.Add(token.DefaultLeeway / 2)
	if gerr := authorize(); gerr != nil {
		t.Fatalf("token within the leeway refused before revocation: %v", gerr)
	}
	if r := e.do("POST", "/oauth/revoke", url.Values{"token": {tok}}, "app", "app-secret"); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if authorize() == nil {
		t.Fatalf("token revoked at exp+%s still accepted by a gateway with leeway %s", token.DefaultLeeway/2, token.DefaultLeeway)
	}
}
