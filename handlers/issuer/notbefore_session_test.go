package issuer

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// `revoke --user` (and the admin API's user disable and delete, which call
// it) revokes everything already issued to the user: the SSO session they
// signed in with and an authorization code not yet redeemed too. Otherwise
// whoever holds the session cookie (the reason for the revocation, often)
// mints fresh tokens, whose iat is after the not-before instant, at once.
func TestRevokeUserEndsSessionAndCodes(t *testing.T) {
	e := newSignInEnv(t, nil)
	ctx := context.Background()
	pending := e.codeFor(t, nil) // alice signs in; the code is not redeemed yet
	if pending == "" {
		t.Fatal("no code")
	}
	if _, err := e.iss.RevokeAllOf(ctx, store.NotBeforeUser, "alice"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second)
	if st, body := e.exchange(t, pending, signInVerifier, "https://app.example/cb"); st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("a code issued before revoke --user still redeems: %d %v", st, body)
	}
	p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"client_id": "first", "redirect_uri": "https://first.example/cb", "scope": "openid", "prompt": "none"}))
	if q := p.location(t).Query(); q.Get("error") != "login_required" {
		t.Fatalf("the session signed in before revoke --user still issues codes: %s", p.location(t))
	}
	// Signing in again works, and what it issues passes.
	code := e.codeFor(t, nil)
	if st, body := e.exchange(t, code, signInVerifier, "https://app.example/cb"); st != 200 || body["access_token"] == nil {
		t.Fatalf("after signing in again: %d %v", st, body)
	}
}

// A client revocation refuses the codes issued to the client before it, not
// those issued after it from a session that began earlier.
func TestRevokeClientRefusesEarlierCodes(t *testing.T) {
	e := newSignInEnv(t, nil)
	ctx := context.Background()
	_, early := e.exchange(t, e.codeFor(t, nil), signInVerifier, "https://app.example/cb")
	pending := e.codeFor(t, nil)
	if _, err := e.iss.RevokeAllOf(ctx, store.NotBeforeClient, "webapp"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second)
	if st, body := e.exchange(t, pending, signInVerifier, "https://app.example/cb"); st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("a code issued before revoke --client still redeems: %d %v", st, body)
	}
	if st, body := e.refresh(t, early["refresh_token"].(string)); st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("a refresh token issued before revoke --client still refreshes: %d %v", st, body)
	}
	code := e.codeFor(t, nil) // the same session, a new code
	if code == "" || strings.Contains(code, " ") {
		t.Fatal("no code")
	}
	st, body := e.exchange(t, code, signInVerifier, "https://app.example/cb")
	if st != 200 {
		t.Fatalf("a code issued after revoke --client: %d %v", st, body)
	}
	// Its refresh token, issued after the revocation, refreshes: the
	// client check is on when the token was issued, not when the user
	// signed in (which is before the revocation here).
	rt, _ := body["refresh_token"].(string)
	if st, body := e.refresh(t, rt); st != 200 {
		t.Fatalf("a refresh token issued after revoke --client: %d %v", st, body)
	}
}

func (e *signInEnv) refresh(t *testing.T, rt string) (int, map[string]any) {
	t.Helper()
	return e.tokenCall(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// revoke --user refuses a person's tokens even when the user's name is also
// the id of the client they signed in through (a client's own
// client_credentials tokens, with no auth_time, are not the user's).
func TestRevokeUserNamedLikeItsClient(t *testing.T) {
	e := userEnv(t, func(c *Config) {
		c.Users = append(c.Users, UserConfig{Name: "app", PasswordHash: cheapHash(t, "app-user-pw")})
	})
	now := e.clock.Now().Unix()
	person := &token.Claims{Issuer: testIss, JTI: "p1", ClientID: "app", Subject: "app", IssuedAt: now, AuthTime: now}
	own := &token.Claims{Issuer: testIss, JTI: "c1", ClientID: "app", Subject: "app", IssuedAt: now}
	if err := e.iss.Admit(person, e.ip); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iss.RevokeAllOf(context.Background(), store.NotBeforeUser, "app"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	if err := e.iss.Admit(person, e.ip); !errors.Is(err, ErrRevokedBefore) {
		t.Fatalf("user app's token after revoke --user app: %v", err)
	}
	if err := e.iss.Admit(own, e.ip); err != nil {
		t.Fatalf("client app's own token after revoke --user app: %v", err)
	}
}
