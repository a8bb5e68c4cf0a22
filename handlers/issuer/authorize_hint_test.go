package issuer

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"testing"
)

// id_token_hint at /authorize (OIDC Core §3.1.2.1): a session of the person
// the hint names answers prompt=none; a session of somebody else does not
// (login_required, never that other person's code); a hint that is not an
// ID token of this issuer is an error.
func TestAuthorizeIDTokenHint(t *testing.T) {
	e := newSignInEnv(t, nil)
	e.store.PutUser(context.Background(), storeUser(t, "dave", "dave-pw", false))
	idTokenOf := func(user, pw string) string {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		saved := e.hc
		e.hc = &http.Client{Jar: jar, CheckRedirect: saved.CheckRedirect}
		defer func() { e.hc = saved }()
		p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"scope": "openid"}))
		p = e.login(t, p, user, pw)
		if p.hidden("csrf") != "" { // consent
			p = e.post(t, "/oauth/consent", map[string][]string{"csrf": {p.hidden("csrf")}, "request": {p.hidden("request")}, "decision": {"allow"}})
		}
		st, body := e.exchange(t, p.location(t).Query().Get("code"), signInVerifier, "https://app.example/cb")
		if st != 200 || body["id_token"] == nil {
			t.Fatalf("exchange for %s: %d %v", user, st, body)
		}
		return body["id_token"].(string)
	}
	daveHint := idTokenOf("dave", "dave-pw")
	aliceHint := idTokenOf("alice", "alice-pw")

	// This browser is signed in as alice.
	q := map[string]string{"client_id": "first", "redirect_uri": "https://first.example/cb", "scope": "openid"}
	if r := e.login(t, e.get(t, "/oauth/authorize?"+authzQuery(q)), "alice", "alice-pw"); r.location(t).Query().Get("code") == "" {
		t.Fatal("sign-in")
	}
	q["prompt"] = "none"
	q["id_token_hint"] = aliceHint
	if loc := e.get(t, "/oauth/authorize?"+authzQuery(q)).location(t); loc.Query().Get("code") == "" {
		t.Fatalf("hint of the signed-in person: %s", loc)
	}
	q["id_token_hint"] = daveHint
	if loc := e.get(t, "/oauth/authorize?"+authzQuery(q)).location(t); loc.Query().Get("error") != "login_required" || loc.Query().Get("code") != "" {
		t.Fatalf("hint of somebody else with prompt=none: %s", loc)
	}
	delete(q, "prompt")
	if p := e.get(t, "/oauth/authorize?"+authzQuery(q)); p.hidden("csrf") == "" || p.status != 200 {
		t.Fatalf("hint of somebody else: status %d, want the login page", p.status)
	}
	q["id_token_hint"] = "eyJhbGciOiJub25lIn0.e30."
	if loc := e.get(t, "/oauth/authorize?"+authzQuery(q)).location(t); loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("a forged hint: %s", loc)
	}
}
