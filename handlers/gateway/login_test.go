package gateway

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
)

func TestLoginSignInServesTheIdentity(t *testing.T) {
	f := newLoginFixture(t, nil)
	c := f.signIn(t, "/reports?y=1")
	if len(c.Value) != 43 || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("session cookie %+v", c)
	}
	r := browserGet("http://app.example/reports", c)
	r.Header.Set("X-User", "root") // forged
	w := f.serve(r)
	if w.Code != 200 || w.Body.String() != "user=alice" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if got := r.Header.Values("X-User"); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("X-User %q", got)
	}
	if r.Header.Get("X-Email") != "alice@example.com" {
		t.Fatalf("userinfo claim not forwarded: %q", r.Header.Get("X-Email"))
	}
	if strings.Contains(r.Header.Get("Cookie"), "authgate_session") {
		t.Fatal("session cookie forwarded upstream")
	}
	// The store holds a hash of the ticket, sealed data, no token in clear.
	if _, err := f.store.GetSession(context.Background(), f.login.kind, c.Value); err == nil {
		t.Fatal("the ticket itself is a store id")
	}
	t1, _ := decodeTicket(c.Value)
	sess, err := f.store.GetSession(context.Background(), f.login.kind, sessionID(t1))
	if err != nil || strings.Contains(string(sess.Data), "at-") || strings.Contains(string(sess.Data), "alice@") {
		t.Fatalf("stored session: %v %q", err, sess.Data)
	}
}

func TestLoginOnlyBrowserNavigationsAreRedirected(t *testing.T) {
	f := newLoginFixture(t, nil)
	for name, r := range map[string]*http.Request{
		"api":  httptest.NewRequest("GET", "http://app.example/x", nil),
		"post": func() *http.Request { r := browserGet("http://app.example/x"); r.Method = "POST"; return r }(),
		"xhr": func() *http.Request {
			r := browserGet("http://app.example/x")
			r.Header.Set("Sec-Fetch-Mode", "cors")
			return r
		}(),
		"json": func() *http.Request {
			r := browserGet("http://app.example/x")
			r.Header.Set("Accept", "application/json")
			return r
		}(),
	} {
		if w := f.serve(r); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, w.Code)
		}
	}
	w := f.serve(browserGet("http://app.example/x"))
	loc, _ := url.Parse(w.Header().Get("Location"))
	q := loc.Query()
	if w.Code != http.StatusFound || q.Get("code_challenge_method") != "S256" || len(q.Get("state")) != 43 || len(q.Get("nonce")) != 43 ||
		q.Get("redirect_uri") != "http://app.example/_authgate/callback" || q.Get("scope") != "openid profile email" {
		t.Fatalf("%d %v", w.Code, q)
	}
}

// Attacks on the callback.
func TestLoginCallbackAttacks(t *testing.T) {
	f := newLoginFixture(t, nil)
	start := func() (url.Values, *http.Cookie) {
		w := f.serve(browserGet("http://app.example/home"))
		return f.op.authorize(t, w.Header().Get("Location")), findCookie(t, w, "_login_")
	}
	callback := func(q url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		return f.serve(browserGet("http://app.example/_authgate/callback?"+q.Encode(), cookies...))
	}
	noSession := func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		for _, c := range w.Result().Cookies() {
			if c.Name == "authgate_session" && c.Value != "" {
				t.Fatal("a session was created")
			}
		}
	}

	t.Run("missing state", func(t *testing.T) {
		q, c := start()
		q.Del("state")
		w := callback(q, c)
		if w.Code != 400 || !strings.Contains(w.Body.String(), "malformed") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		noSession(t, w)
	})
	t.Run("forged state", func(t *testing.T) {
		q, c := start()
		q.Set("state", randomToken()) // no cookie for it
		w := callback(q, c)
		if w.Code != 400 || !strings.Contains(w.Body.String(), "Sign-in expired") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		noSession(t, w)
	})
	t.Run("state of another attempt's cookie", func(t *testing.T) {
		q1, _ := start()
		_, c2 := start()
		c2.Name = strings.Replace(c2.Name, c2.Name[len("authgate_session_login_"):], q1.Get("state"), 1)
		if w := callback(q1, c2); w.Code != 400 {
			t.Fatalf("a cookie sealed for another state was accepted: %d", w.Code)
		}
	})
	t.Run("replayed callback", func(t *testing.T) {
		q, c := start()
		if w := callback(q, c); w.Code != http.StatusSeeOther {
			t.Fatalf("first: %d %s", w.Code, w.Body)
		}
		// The attacker kept the attempt cookie (the browser was told to drop it).
		w := callback(q, c)
		if w.Code != 400 {
			t.Fatalf("replay: %d %s", w.Code, w.Body)
		}
		noSession(t, w)
	})
	t.Run("nonce mismatch", func(t *testing.T) {
		q, c := start()
		f.op.spoil = func(m map[string]any) { m["nonce"] = "other" }
		w := callback(q, c)
		if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "could not be verified") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		noSession(t, w)
	})
	for name, spoil := range map[string]func(map[string]any){
		"at_hash mismatch":    func(m map[string]any) { m["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" },
		"other audience":      func(m map[string]any) { m["aud"] = "someone-else" },
		"azp of another":      func(m map[string]any) { m["aud"] = []string{"portal", "x"}; m["azp"] = "x" },
		"several aud, no azp": func(m map[string]any) { m["aud"] = []string{"portal", "x"} },
		"other issuer":        func(m map[string]any) { m["iss"] = "https://evil.example" },
		"expired":             func(m map[string]any) { m["exp"] = gwNow.Unix() - 3600 },
		"no nonce":            func(m map[string]any) { delete(m, "nonce") },
	} {
		t.Run(name, func(t *testing.T) {
			q, c := start()
			f.op.spoil = spoil
			w := callback(q, c)
			if w.Code != http.StatusBadGateway {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			noSession(t, w)
		})
	}
	t.Run("tampered attempt cookie", func(t *testing.T) {
		q, c := start()
		b := []byte(c.Value)
		b[10] ^= 1
		c.Value = string(b)
		if w := callback(q, c); w.Code != 400 {
			t.Fatalf("%d", w.Code)
		}
	})
	t.Run("attempt expired", func(t *testing.T) {
		q, c := start()
		f.clock.Advance(LoginAttemptTTL + time.Second)
		defer f.clock.Set(gwNow)
		if w := callback(q, c); w.Code != 400 {
			t.Fatalf("%d", w.Code)
		}
	})
	t.Run("provider error is shown, escaped", func(t *testing.T) {
		q, c := start()
		w := callback(url.Values{"state": {q.Get("state")}, "error": {"access_denied"}, "error_description": {"<script>x</script>"}}, c)
		if w.Code != 403 || !strings.Contains(w.Body.String(), "Sign-in cancelled") || strings.Contains(w.Body.String(), "<script>") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("CSP %q", csp)
		}
	})
	t.Run("hostile parameters", func(t *testing.T) {
		for _, raw := range []string{
			"state=" + strings.Repeat("A", 5000) + "&code=x",
			"code=" + strings.Repeat("c", maxCodeLen+1) + "&state=" + randomToken(),
			"state=" + randomToken() + "&state=" + randomToken() + "&code=x",
			"state=" + randomToken() + "&code=x&error=access_denied",
			"state=%zz&code=x",
			"state=" + randomToken() + "&code=a%00b",
			strings.Repeat("a=b&", 3000),
		} {
			if w := f.serve(browserGet("http://app.example/_authgate/callback?" + raw)); w.Code != 400 {
				t.Errorf("%.60s: %d", raw, w.Code)
			}
		}
	})
}

func TestLoginReturnURLIsSameOriginOnly(t *testing.T) {
	for _, p := range []string{"//evil.example/x", "/\\evil.example", "/\r\nLocation:x", "http://evil.example/", "https:evil", "", "/a\\b", "/ok\x7f"} {
		if safeReturn(p) {
			t.Errorf("%q accepted as a return path", p)
		}
	}
	for _, p := range []string{"/", "/a/b?c=d&e=%2F%2Fx", "/x#y"} {
		if !safeReturn(p) {
			t.Errorf("%q refused", p)
		}
	}
	// End to end: the attempt remembers only the request's own path.
	f := newLoginFixture(t, nil)
	for _, target := range []string{"http://app.example//evil.example/x", "http://app.example/\\evil.example"} {
		r := browserGet(target)
		r.RequestURI = strings.TrimPrefix(target, "http://app.example")
		w := f.serve(r)
		cb := f.op.authorize(t, w.Header().Get("Location"))
		w = f.serve(browserGet("http://app.example/_authgate/callback?"+cb.Encode(), findCookie(t, w, "_login_")))
		if loc := w.Header().Get("Location"); loc != "/" {
			t.Errorf("%s: back to %q, want /", target, loc)
		}
	}
}

func TestLoginSessionCookieAttacks(t *testing.T) {
	f := newLoginFixture(t, nil)
	c := f.signIn(t, "/")
	t.Run("tampered ticket", func(t *testing.T) {
		b := []byte(c.Value)
		b[5] ^= 1
		w := f.serve(browserGet("http://app.example/", &http.Cookie{Name: c.Name, Value: string(b)}))
		if w.Code != http.StatusFound {
			t.Fatalf("%d", w.Code)
		}
		if w := f.serve(httptest.NewRequest("GET", "http://app.example/api", nil)); w.Code != 401 {
			t.Fatalf("api: %d", w.Code)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		for _, v := range []string{"", "x", strings.Repeat("A", 5000), c.Value + "A", "%%%"} {
			r := httptest.NewRequest("GET", "http://app.example/api", nil)
			r.Header.Set("Cookie", "authgate_session="+v)
			if w := f.serve(r); w.Code != 401 {
				t.Errorf("%.20q: %d", v, w.Code)
			}
		}
	})
	t.Run("two cookies of the name", func(t *testing.T) {
		r := httptest.NewRequest("GET", "http://app.example/api", nil)
		r.Header.Set("Cookie", "authgate_session="+c.Value+"; authgate_session="+randomToken())
		if w := f.serve(r); w.Code != 401 {
			t.Fatalf("ambiguous cookies accepted: %d", w.Code)
		}
	})
	t.Run("cookie from another site", func(t *testing.T) {
		// Another site behind the same gateway store gets the ticket
		// (a copied cookie, or one set for a parent domain).
		r := httptest.NewRequest("GET", "http://other.example/api", nil)
		r.AddCookie(c)
		if w := f.serve(r); w.Code != 401 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		// and still works at home
		if w := f.serve(browserGet("http://app.example/", c)); w.Code != 200 {
			t.Fatalf("home: %d", w.Code)
		}
	})
}

func TestLoginNewTicketAtEverySignIn(t *testing.T) {
	f := newLoginFixture(t, nil)
	old := f.signIn(t, "/")
	w := f.serve(browserGet("http://app.example/again", old))
	if w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
	// A fixation attempt: the attacker plants a ticket, the victim signs in.
	w = f.serve(browserGet("http://app.example/x"))
	cb := f.op.authorize(t, w.Header().Get("Location"))
	w = f.serve(browserGet("http://app.example/_authgate/callback?"+cb.Encode(), findCookie(t, w, "_login_"), old))
	fresh := findCookie(t, w, "authgate_session")
	if fresh.Value == old.Value {
		t.Fatal("the ticket survived a sign-in")
	}
	if w := f.serve(httptest.NewRequest("GET", "http://app.example/api", nil)); w.Code != 401 {
		t.Fatal()
	}
	r := httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(old)
	if w := f.serve(r); w.Code != 401 {
		t.Fatalf("the previous session still works: %d", w.Code)
	}
}

func TestLoginLogoutCSRF(t *testing.T) {
	f := newLoginFixture(t, nil)
	c := f.signIn(t, "/")
	alive := func() bool {
		r := httptest.NewRequest("GET", "http://app.example/api", nil)
		r.AddCookie(c)
		return f.serve(r).Code == 200
	}
	post := func(h map[string]string, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "http://app.example/_authgate/logout", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			r.Header.Set(k, v)
		}
		r.AddCookie(c)
		return f.serve(r)
	}
	for name, h := range map[string]map[string]string{
		"cross-site fetch metadata": {"Sec-Fetch-Site": "cross-site", "Origin": "http://app.example"},
		"foreign origin":            {"Origin": "https://evil.example"},
		"null origin":               {"Origin": "null"},
		"foreign referer":           {"Referer": "https://evil.example/page"},
		"no evidence at all":        {},
		"none on POST":              {"Sec-Fetch-Site": "none"},
	} {
		if w := post(h, "csrf=forged"); w.Code != 403 || !alive() {
			t.Fatalf("%s: %d, alive %v", name, w.Code, alive())
		}
	}
	// A cross-site GET (an image, a link) only shows the confirmation form.
	r := browserGet("http://app.example/_authgate/logout", c)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := f.serve(r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `method="post"`) || !alive() {
		t.Fatalf("cross-site GET: %d alive %v", w.Code, alive())
	}
	// The form's own CSRF token works without fetch metadata.
	tok := f.login.csrfToken(r)
	if w := post(nil, "csrf="+tok); w.Code != http.StatusSeeOther || alive() {
		t.Fatalf("logout with the form's token: %d, alive %v", w.Code, alive())
	}
}

func TestLoginLogoutEndsTheSessionAtTheProvider(t *testing.T) {
	f := newLoginFixture(t, func(lc *LoginConfig, _ *Config) { lc.PostLogoutRedirect = "http://app.example/bye" })
	c := f.signIn(t, "/")
	r := httptest.NewRequest("POST", "http://app.example/_authgate/logout", nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(c)
	w := f.serve(r)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc.String(), f.op.URL+"/logout?") ||
		loc.Query().Get("id_token_hint") == "" || loc.Query().Get("post_logout_redirect_uri") != "http://app.example/bye" {
		t.Fatalf("%d %s", w.Code, loc)
	}
	if ck := w.Result().Cookies(); len(ck) == 0 || ck[0].MaxAge >= 0 {
		t.Fatalf("cookie not cleared: %v", ck)
	}
	t1, _ := decodeTicket(c.Value)
	if _, err := f.store.GetSession(context.Background(), f.login.kind, sessionID(t1)); err == nil {
		t.Fatal("session still stored")
	}
}

func TestLoginSessionLifetime(t *testing.T) {
	f := newLoginFixture(t, func(lc *LoginConfig, _ *Config) {
		lc.SessionTTL, lc.IdleTimeout = 2*time.Hour, 30*time.Minute
	})
	c := f.signIn(t, "/")
	get := func() int {
		r := httptest.NewRequest("GET", "http://app.example/api", nil)
		r.AddCookie(c)
		return f.serve(r).Code
	}
	// The ID token (60s) and access tokens (300s) expire many times over:
	// refreshes keep the session; use within idle_timeout keeps it.
	for i := 0; i < 7; i++ {
		f.clock.Advance(15 * time.Minute)
		if code := get(); code != 200 {
			t.Fatalf("after %v: %d", time.Duration(i+1)*15*time.Minute, code)
		}
	}
	if f.op.refreshN.Load() < 7 {
		t.Fatalf("refreshes: %d", f.op.refreshN.Load())
	}
	// session_ttl is absolute: refreshing never extends it.
	f.clock.Advance(16 * time.Minute)
	if code := get(); code != 401 {
		t.Fatalf("past session_ttl: %d", code)
	}

	g := newLoginFixture(t, func(lc *LoginConfig, _ *Config) { lc.IdleTimeout = 30 * time.Minute })
	c = g.signIn(t, "/")
	g.clock.Advance(31 * time.Minute)
	r := httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(c)
	if code := g.serve(r).Code; code != 401 {
		t.Fatalf("past idle_timeout: %d", code)
	}
}

func TestLoginRefreshFailure(t *testing.T) {
	f := newLoginFixture(t, nil)
	c := f.signIn(t, "/")
	f.op.failNext = http.StatusBadRequest
	f.clock.Advance(5 * time.Minute)
	if w := f.serve(browserGet("http://app.example/page", c)); w.Code != http.StatusFound {
		t.Fatalf("browser after a refused refresh: %d, want a new sign-in", w.Code)
	}
	r := httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(c)
	if w := f.serve(r); w.Code != 401 {
		t.Fatalf("api after a refused refresh: %d", w.Code)
	}

	// A provider that is down: served while the access token lasts.
	g := newLoginFixture(t, nil)
	c = g.signIn(t, "/")
	g.op.failNext = http.StatusServiceUnavailable
	g.clock.Advance(290 * time.Second) // within the refresh window, before expiry
	r = httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(c)
	if w := g.serve(r); w.Code != 200 {
		t.Fatalf("provider down, token valid: %d", w.Code)
	}
	// Back up: the next attempt (after the retry pause) refreshes, with the
	// lease this instance still holds.
	n := g.op.refreshN.Load()
	g.clock.Advance(refreshRetry + time.Second)
	r = httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(c)
	if w := g.serve(r); w.Code != 200 || g.op.refreshN.Load() != n+1 {
		t.Fatalf("after the outage: %d, refreshes %d", w.Code, g.op.refreshN.Load()-n)
	}
}

// One refresh for 20 concurrent requests at the access token's expiry, in
// one instance and across two sharing a store (memory, and a real bbolt
// file).
func TestLoginSingleFlightRefresh(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		f := newLoginFixture(t, nil)
		singleFlight(t, f, newLoginFixtureOn(t, f.clock, f.store, f.op, nil))
	})
	t.Run("bolt", func(t *testing.T) {
		clock := testutil.NewClock(gwNow)
		db, err := store.OpenBolt(filepath.Join(t.TempDir(), "gw.db"), store.BoltOptions{Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		op := newFakeOP(t, clock)
		singleFlight(t, newLoginFixtureOn(t, clock, db, op, nil), newLoginFixtureOn(t, clock, db, op, nil))
	})
}

func singleFlight(t *testing.T, f, other *loginFixture) {
	c := f.signIn(t, "/")
	for round := 0; round < 3; round++ {
		f.clock.Advance(5 * time.Minute)
		before := f.op.refreshN.Load()
		var wg sync.WaitGroup
		codes := make([]int, 40)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst := f
				if i%2 == 1 {
					inst = other
				}
				r := httptest.NewRequest("GET", "http://app.example/api", nil)
				r.AddCookie(c)
				codes[i] = inst.serve(r).Code
			}()
		}
		wg.Wait()
		for i, code := range codes {
			if code != 200 {
				t.Fatalf("round %d request %d: %d", round, i, code)
			}
		}
		if n := f.op.refreshN.Load() - before; n != 1 {
			t.Fatalf("round %d: %d refreshes, want 1", round, n)
		}
	}
}

func TestLoginCookieSessions(t *testing.T) {
	f := newLoginFixture(t, func(lc *LoginConfig, _ *Config) { lc.CookieSessions = true })
	c := f.signIn(t, "/")
	if len(c.Value) < 100 || len(c.Value) > MaxCookieSession {
		t.Fatalf("cookie of %d bytes", len(c.Value))
	}
	get := func(c *http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://app.example/api", nil)
		r.AddCookie(c)
		return f.serve(r)
	}
	if w := get(c); w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
	// A refresh reseals the cookie; the old value stays valid in this
	// process (other tabs may still send it).
	f.clock.Advance(5 * time.Minute)
	w := get(c)
	fresh := findCookie(t, w, "authgate_session")
	if w.Code != 200 || fresh.Value == c.Value {
		t.Fatalf("refresh: %d", w.Code)
	}
	if w := get(c); w.Code != 200 {
		t.Fatalf("old cookie after refresh: %d", w.Code)
	}
	b := []byte(fresh.Value)
	b[30] ^= 2
	if w := get(&http.Cookie{Name: fresh.Name, Value: string(b)}); w.Code != 401 {
		t.Fatalf("tampered cookie session: %d", w.Code)
	}
	// Logout ends copies of the cookie too.
	r := httptest.NewRequest("POST", "http://app.example/_authgate/logout", nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(fresh)
	f.serve(r)
	f.clock.Advance(2 * time.Second) // past the in-memory recheck
	restarted := newLoginFixtureOn(t, f.clock, f.store, f.op, func(lc *LoginConfig, _ *Config) { lc.CookieSessions = true })
	r = httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(fresh)
	if w := restarted.serve(r); w.Code != 401 {
		t.Fatalf("ended cookie session accepted: %d", w.Code)
	}
	// Too big for a cookie: refused, never split.
	big := newLoginFixture(t, func(lc *LoginConfig, _ *Config) { lc.CookieSessions = true })
	big.op.userinfo["bio"] = strings.Repeat("x", 5000)
	w = big.serve(browserGet("http://app.example/"))
	cb := big.op.authorize(t, w.Header().Get("Location"))
	w = big.serve(browserGet("http://app.example/_authgate/callback?"+cb.Encode(), findCookie(t, w, "_login_")))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("oversized cookie session: %d", w.Code)
	}
}

func TestLoginClaimRuleGivesThe403Page(t *testing.T) {
	f := newLoginFixture(t, func(_ *LoginConfig, cfg *Config) {
		cfg.Rules.Claims = []ClaimRule{{Path: "groups", Values: []string{"admins"}}}
	})
	c := f.signIn(t, "/")
	w := f.serve(browserGet("http://app.example/", c))
	if w.Code != 403 || !strings.Contains(w.Body.String(), "Access denied") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	r := httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(c)
	if w := f.serve(r); w.Code != 403 || strings.Contains(w.Body.String(), "<html") {
		t.Fatalf("api: %d", w.Code)
	}
}

func TestLoginBearerTokensStillWork(t *testing.T) {
	sg, keys := ecFixture(t)
	f := newLoginFixture(t, func(_ *LoginConfig, cfg *Config) { cfg.Keys = staticKeys(keys) })
	r := httptest.NewRequest("GET", "http://app.example/api", nil)
	r.Header.Set("Authorization", "Bearer "+sg.sign(t, baseClaims(nil)))
	if w := f.serve(r); w.Code != 200 || w.Body.String() != "user=alice" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

var _ = memory.New

// A session of one login config (provider + client) is not a session of
// another that shares the store and the host.
func TestLoginSessionsAreBoundToTheirLoginConfig(t *testing.T) {
	f := newLoginFixture(t, nil)
	c := f.signIn(t, "/")
	other := newLoginFixtureOn(t, f.clock, f.store, f.op, func(lc *LoginConfig, _ *Config) { lc.ClientID = "other-client" })
	r := httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(c)
	if w := other.serve(r); w.Code != 401 {
		t.Fatalf("another client's login accepted the session: %d", w.Code)
	}
	r = httptest.NewRequest("GET", "http://app.example/api", nil)
	r.AddCookie(c)
	if w := f.serve(r); w.Code != 200 {
		t.Fatalf("own login: %d", w.Code)
	}
}

// On https the cookies are Secure and prefixed: __Host- for the session
// (host-only, Path=/), __Secure- for the attempts (scoped to the callback).
func TestLoginCookiesOnHTTPS(t *testing.T) {
	f := newLoginFixture(t, nil)
	tlsGet := func(target string, cookies ...*http.Cookie) *http.Request {
		r := browserGet(target, cookies...)
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
		return r
	}
	w := f.serve(tlsGet("https://app.example/x"))
	attempt := findCookie(t, w, "__Secure-authgate_session_login_")
	if !attempt.Secure || !attempt.HttpOnly || attempt.Path != "/_authgate/callback" || attempt.SameSite != http.SameSiteLaxMode {
		t.Fatalf("attempt cookie %+v", attempt)
	}
	loc, _ := url.Parse(w.Header().Get("Location"))
	if loc.Query().Get("redirect_uri") != "https://app.example/_authgate/callback" {
		t.Fatalf("redirect_uri %q", loc.Query().Get("redirect_uri"))
	}
	cb := f.op.authorize(t, loc.String())
	w = f.serve(tlsGet("https://app.example/_authgate/callback?"+cb.Encode(), attempt))
	s := findCookie(t, w, "__Host-authgate_session")
	if !s.Secure || !s.HttpOnly || s.Path != "/" || s.Domain != "" || s.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v", s)
	}
	if w := f.serve(tlsGet("https://app.example/x", s)); w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
	// The unprefixed name is not the session on https (a sibling domain
	// or a plain-http page could set that one).
	if w := f.serve(tlsGet("https://app.example/x", &http.Cookie{Name: "authgate_session", Value: s.Value})); w.Code != http.StatusFound {
		t.Fatalf("unprefixed cookie on https: %d", w.Code)
	}
}
