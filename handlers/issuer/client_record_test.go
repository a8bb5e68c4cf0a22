package issuer

import (
	"context"
	"testing"

	"github.com/authgate/caddy-authgate/jwkscache"
	"github.com/authgate/caddy-authgate/store"
)

// A client added at run time (admin API) with auth method private_key_jwt
// and a jwks_uri authenticates with assertions signed by a key of that JWKS.
func TestStoreClientPrivateKeyJWTByJWKSURI(t *testing.T) {
	k := newJWTKeys(t)
	clock := newClock()
	db := openStore(t, clock)
	if err := db.PutClient(context.Background(), store.Client{ID: "run-time-partner", Issuer: testIss,
		AuthMethods: []string{AuthPrivateKeyJWT}, JWKSURI: k.jwk.JWKSURL(), Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, db, clock, func(c *Config) {
		c.JWKS = jwkscache.NewCache(jwkscache.CacheConfig{})
		t.Cleanup(c.JWKS.Close)
	})
	r := e.assertionToken(e.assertion(t, k.ed, "EdDSA", "ed1", "run-time-partner", nil), nil)
	if r.status != 200 {
		t.Fatalf("store client with jwks_uri: %d %s", r.status, r.raw)
	}
	// A key the JWKS does not hold is refused.
	if r := e.assertionToken(e.assertion(t, k.ec, "ES256", "", "run-time-partner", nil), nil); r.status != 401 {
		t.Fatalf("foreign key: %d %s, want 401", r.status, r.raw)
	}
}
