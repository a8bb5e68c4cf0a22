package issuer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The consent form must not stand in for the sign-in that prompt=login or
// max_age asks for: someone at a browser with an old session who posts the
// consent form (with the CSRF token of the login page) gets the login page,
// not a code. After a real sign-in the consent page still goes through.
func TestConsentPostDoesNotSkipReauthentication(t *testing.T) {
	e := newSignInEnv(t, nil)
	p := e.get(t, "/oauth/authorize?"+authzQuery(nil))
	c := e.login(t, p, "alice", "alice-pw")
	if r := e.post(t, "/oauth/consent", url.Values{"csrf": {c.hidden("csrf")}, "request": {c.hidden("request")}, "decision": {"allow"}}); r.location(t).Query().Get("code") == "" {
		t.Fatalf("first consent: %d", r.status)
	}
	e.clock.Advance(2 * time.Hour)
	for name, q := range map[string]map[string]string{
		"prompt=login":         {"prompt": "login", "scope": "openid orders:read"},
		"prompt=login consent": {"prompt": "login consent"},
		"max_age":              {"max_age": "60", "scope": "openid orders:read"},
		"max_age=0":            {"max_age": "0"},
	} {
		lp := e.get(t, "/oauth/authorize?"+authzQuery(q))
		if !strings.Contains(lp.body, `name="password"`) {
			t.Fatalf("%s: no login page: %d", name, lp.status)
		}
		r := e.post(t, "/oauth/consent", url.Values{"csrf": {lp.hidden("csrf")}, "request": {lp.hidden("request")}, "decision": {"allow"}})
		if loc := r.header.Get("Location"); loc != "" || !strings.Contains(r.body, `name="password"`) {
			t.Errorf("%s: the consent form skipped the sign-in: %d %s", name, r.status, loc)
		}
	}
	// The real thing: sign in again, then consent, a while later.
	for name, q := range map[string]map[string]string{
		"prompt=login": {"prompt": "login consent"},
		"max_age=0":    {"max_age": "0", "scope": "openid profile"},
	} {
		lp := e.get(t, "/oauth/authorize?"+authzQuery(q))
		cp := e.login(t, lp, "alice", "alice-pw")
		if cp.status != http.StatusOK || !strings.Contains(cp.body, `value="allow"`) {
			t.Fatalf("%s: consent page after sign-in: %d", name, cp.status)
		}
		e.clock.Advance(20 * time.Second)
		r := e.post(t, "/oauth/consent", url.Values{"csrf": {cp.hidden("csrf")}, "request": {cp.hidden("request")}, "decision": {"allow"}})
		if r.location(t).Query().Get("code") == "" {
			t.Fatalf("%s: consent after sign-in: %d %s", name, r.status, r.header.Get("Location"))
		}
		// That sign-in answered this request only: posting the form of
		// another request that asks for a sign-in does not use it.
		other := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"prompt": "login", "state": "other-" + name}))
		r = e.post(t, "/oauth/consent", url.Values{"csrf": {other.hidden("csrf")}, "request": {other.hidden("request")}, "decision": {"allow"}})
		if r.header.Get("Location") != "" {
			t.Errorf("%s: a sign-in answered another request's prompt=login", name)
		}
	}
}
