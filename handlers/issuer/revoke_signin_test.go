package issuer

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// Revoking a user's tokens (`revoke --user`, also what disabling does to
// families) ends what was signed in before it: the SSO session no longer
// issues codes (the browser signs in again), and a code from a sign-in
// before it is not redeemed, just as such a family cannot refresh.
func TestRevokeUserEndsEarlierSignIns(t *testing.T) {
	e := newSignInEnv(t, nil)
	if code := e.codeFor(t, nil); code == "" {
		t.Fatal("no code")
	}
	pending := e.codeFor(t, map[string]string{"state": "pending"})
	e.clock.Advance(5 * time.Second)
	if _, err := e.iss.RevokeAllOf(context.Background(), store.NotBeforeUser, "alice"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	if st, body := e.exchange(t, pending, signInVerifier, "https://app.example/cb"); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("code of a sign-in before the revocation: %d %v", st, body)
	}
	p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"prompt": "none"}))
	if l := p.location(t); l.Query().Get("code") != "" || l.Query().Get("error") != "login_required" {
		t.Fatalf("session of before the revocation still issues codes: %s", l)
	}
	// Signing in again works.
	p = e.get(t, "/oauth/authorize?"+authzQuery(nil))
	if !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("no login page: %d", p.status)
	}
	after := e.login(t, p, "alice", "alice-pw")
	code := after.location(t).Query().Get("code")
	if st, body := e.exchange(t, code, signInVerifier, "https://app.example/cb"); st != 200 || body["access_token"] == nil {
		t.Fatalf("after a new sign-in: %d %v", st, body)
	}
}

// `revoke --client` likewise refuses the codes the client got before it.
func TestRevokeClientRefusesEarlierCodesSignIn(t *testing.T) {
	e := newSignInEnv(t, nil)
	pending := e.codeFor(t, nil)
	e.clock.Advance(5 * time.Second)
	if _, err := e.iss.RevokeAllOf(context.Background(), store.NotBeforeClient, "webapp"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	if st, body := e.exchange(t, pending, signInVerifier, "https://app.example/cb"); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("client's code from before the revocation: %d %v", st, body)
	}
}
