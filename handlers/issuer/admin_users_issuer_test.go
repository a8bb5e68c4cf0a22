package issuer

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/caddy-authgate/token"
)

// Users are per issuer, like clients, though every issuer of a Caddy shares
// one store: a user added at one issuer cannot sign in at another, is not
// listed, shown, edited or deleted there, and its name is not taken over.
// (Before, a user added for one issuer signed in at every issuer sharing the
// store, and disabling or deleting it at one revoked its tokens there only.)
func TestAdminUsersPerIssuer(t *testing.T) {
	e := newAdminEnv(t, nil)
	other := newEnvOn(t, e.store, e.clock, func(c *Config) { c.Issuer = "https://other.example.com" })
	e.api.Issuers = func() ([]*Issuer, error) { return []*Issuer{e.iss, other.iss}, nil }
	ctx := context.Background()
	e.must(201, e.call("POST", "users", `{"name":"alice","password":"correct horse"}`))
	if _, err := e.iss.authenticateUser(ctx, "alice", "correct horse", e.ip); err != nil {
		t.Fatalf("alice at her issuer: %v", err)
	}
	if _, err := other.iss.authenticateUser(ctx, "alice", "correct horse", e.ip); !errors.Is(err, errBadCredentials) {
		t.Fatalf("a user added at %s signs in at %s: %v", testIss, other.iss.iss, err)
	}
	at := func(method, rest, body string) adminResp {
		return e.callPath(method, AdminPrefix+"issuers/"+url.PathEscape(other.iss.iss)+"/"+rest, body)
	}
	if r := at("GET", "users", ""); strings.Contains(r.raw, "alice") {
		t.Fatalf("other issuer lists alice: %s", r.raw)
	}
	for _, c := range []struct{ method, rest, body string }{
		{"GET", "users/alice", ""},
		{"PATCH", "users/alice", `{"password":"mallory's password"}`},
		{"DELETE", "users/alice", ""},
	} {
		if r := at(c.method, c.rest, c.body); r.status != 404 {
			t.Errorf("%s %s at the other issuer: %d %s", c.method, c.rest, r.status, r.raw)
		}
	}
	if r := at("POST", "users", `{"name":"alice","password":"mallory's password"}`); r.status != 409 {
		t.Errorf("other issuer took over alice's record: %d %s", r.status, r.raw)
	}
	if _, err := e.iss.authenticateUser(ctx, "alice", "correct horse", e.ip); err != nil {
		t.Fatalf("alice after the other issuer's attempts: %v", err)
	}
	// Disabling her revokes her tokens at her issuer.
	tok := &token.Claims{Issuer: testIss, JTI: "t1", ClientID: "app", Subject: "alice", IssuedAt: e.clock.Now().Unix()}
	e.must(200, e.call("PATCH", "users/alice", `{"disabled":true}`))
	if err := e.iss.Admit(tok, e.ip); !errors.Is(err, ErrRevokedBefore) {
		t.Fatalf("disabled user's token: %v", err)
	}
}
