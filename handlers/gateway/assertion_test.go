package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/caddy-authgate/token"
)

func assertionKeys(t testing.TB) (AssertionKeys, *token.KeySet) {
	priv, err := token.GenerateKey(token.ES256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := token.NewSigner("gw1", token.ES256, priv)
	if err != nil {
		t.Fatal(err)
	}
	jwk, _ := token.PublicJWK("gw1", token.ES256, priv)
	doc, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	keys, _, err := token.ParseJWKS(doc, "gw")
	if err != nil {
		t.Fatal(err)
	}
	return func(context.Context) (*token.Signer, []byte, error) { return s, doc, nil }, token.NewKeySet(keys...)
}

// identity_header: a verifiable JWT of the identity, for bearer requests and
// sessions alike; a client-supplied copy never survives.
func TestIdentityAssertion(t *testing.T) {
	keys, set := assertionKeys(t)
	sg, bearerKeys := ecFixture(t)
	f := newLoginFixture(t, func(_ *LoginConfig, cfg *Config) {
		cfg.Keys = staticKeys(bearerKeys)
		cfg.Assertion = &Assertion{Header: "x-authgate-assertion", Keys: keys, Claims: []string{"email", "sub"}}
	})
	f.gw.cfg.Assertion.Now = f.clock.Now
	check := func(r *http.Request, wantSub string) {
		t.Helper()
		v := r.Header.Values("X-Authgate-Assertion")
		if len(v) != 1 || v[0] == "forged" {
			t.Fatalf("assertion header %q", v)
		}
		p := token.Policy{Issuers: []string{"http://app.example"}, Audiences: []string{"app.example"}}
		c, err := token.VerifySignature(context.Background(), v[0], &p, func(string) (token.KeyResolver, error) { return set, nil })
		if err != nil {
			t.Fatal(err)
		}
		if te := p.Check(c, f.clock.Now()); te != nil || c.Subject != wantSub {
			t.Fatalf("%v %q", te, c.Subject)
		}
		if e, _ := c.Claim("email"); e != "alice@example.com" {
			t.Fatalf("email %v", e)
		}
		if c.ExpiresAt-f.clock.Now().Unix() > int64(AssertionTTL.Seconds()) {
			t.Fatalf("assertion lives %ds", c.ExpiresAt-f.clock.Now().Unix())
		}
	}
	// bearer
	r := httptest.NewRequest("GET", "http://app.example/api", nil)
	r.Header.Set("Authorization", "Bearer "+sg.sign(t, baseClaims(nil)))
	r.Header.Set("X-Authgate-Assertion", "forged")
	if _, e := f.gw.Authorize(r, loopback); e != nil {
		t.Fatal(e)
	}
	check(r, "alice")
	// session
	c := f.signIn(t, "/")
	r = httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(c)
	r.Header.Set("X-Authgate-Assertion", "forged")
	if _, e := f.gw.Authorize(r, loopback); e != nil {
		t.Fatal(e)
	}
	check(r, "alice")
	// refused requests carry no assertion either
	r = httptest.NewRequest("GET", "http://app.example/api", nil)
	r.Header.Set("X-Authgate-Assertion", "forged")
	if _, e := f.gw.Authorize(r, loopback); e == nil || r.Header.Get("X-Authgate-Assertion") != "" {
		t.Fatalf("refused request kept %q", r.Header.Get("X-Authgate-Assertion"))
	}
	w := httptest.NewRecorder()
	f.gw.cfg.Assertion.ServeJWKS(w, httptest.NewRequest("GET", AssertionJWKSPath, nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("jwks: %d", w.Code)
	}
	if _, _, err := token.ParseJWKS(w.Body.Bytes(), "x"); err != nil {
		t.Fatal(err)
	}
}
