package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

const signInVerifier = "dBjftJeZ4CVP-mJ92ZOxqo5ghGkcbC2rb2kkiKu7Jv3"

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// signInEnv is an issuer with people clients behind an httptest server, and
// a browser-like client (cookie jar, no redirect following).
type signInEnv struct {
	*testEnv
	srv *httptest.Server
	hc  *http.Client
}

func newSignInEnv(t testing.TB, mutate func(*Config)) *signInEnv {
	t.Helper()
	var srv *httptest.Server
	e := userEnv(t, func(c *Config) {
		c.Issuer = "http://issuer.test"
		c.ScopeDescriptions = map[string]string{"orders:read": "Read your orders"}
		c.Clients = append(c.Clients,
			ClientConfig{ID: "webapp", Name: "Web App", Secrets: []SecretConfig{{Plain: "web-secret"}},
				GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}, Scopes: []string{"openid", "profile", "email", "orders:read"},
				PeopleConfig: PeopleConfig{RedirectURIs: []string{"https://app.example/cb", "https://app.example/cb2?x=1"},
					PostLogoutRedirectURIs: []string{"https://app.example/bye"}}},
			ClientConfig{ID: "first", Secrets: []SecretConfig{{Plain: "first-secret"}}, GrantTypes: []string{GrantAuthorizationCode},
				Scopes: []string{"openid"}, PeopleConfig: PeopleConfig{RedirectURIs: []string{"https://first.example/cb"}, SkipConsent: true}},
			ClientConfig{ID: "native", AuthMethods: []string{AuthNone}, GrantTypes: []string{GrantAuthorizationCode},
				Scopes: []string{"openid"}, PeopleConfig: PeopleConfig{Public: true, RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/cb"}}},
			ClientConfig{ID: "spa", AuthMethods: []string{AuthNone}, GrantTypes: []string{GrantImplicit},
				Scopes: []string{"read"}, PeopleConfig: PeopleConfig{Public: true, RedirectURIs: []string{"https://app.example/cb"}}},
		)
		if mutate != nil {
			mutate(c)
		}
	})
	srv = httptest.NewServer(e.iss)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &signInEnv{testEnv: e, srv: srv, hc: hc}
}

func authzQuery(overrides map[string]string) string {
	v := url.Values{"response_type": {"code"}, "client_id": {"webapp"}, "redirect_uri": {"https://app.example/cb"},
		"scope": {"openid email"}, "state": {"st-1"}, "nonce": {"n-1"}, "code_challenge": {s256(signInVerifier)},
		"code_challenge_method": {"S256"}}
	for k, val := range overrides {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return v.Encode()
}

type page struct {
	status int
	header http.Header
	body   string
}

func (p page) hidden(name string) string {
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func (p page) location(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(p.header.Get("Location"))
	if err != nil || p.header.Get("Location") == "" {
		t.Fatalf("no redirect (status %d): %s", p.status, p.body)
	}
	return u
}

func (e *signInEnv) get(t *testing.T, path string) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	return e.send(t, req)
}

func (e *signInEnv) post(t *testing.T, path string, form url.Values) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.send(t, req)
}

func (e *signInEnv) send(t *testing.T, req *http.Request) page {
	t.Helper()
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(b)}
}

func (e *signInEnv) login(t *testing.T, p page, user, password string) page {
	t.Helper()
	return e.post(t, "/oauth/login", url.Values{"csrf": {p.hidden("csrf")}, "request": {p.hidden("request")}, "username": {user}, "password": {password}})
}

func checkPageHeaders(t *testing.T, p page) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	if csp == "" || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if p.header.Get("Referrer-Policy") != "no-referrer" || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", p.header)
	}
}

func TestAuthorizeCodeFlow(t *testing.T) {
	e := newSignInEnv(t, nil)
	p := e.get(t, "/oauth/authorize?"+authzQuery(nil))
	if p.status != 200 || !strings.Contains(p.body, `name="username"`) || !strings.Contains(p.body, `autocomplete="current-password"`) || p.hidden("csrf") == "" {
		t.Fatalf("login page: %d %s", p.status, p.body)
	}
	checkPageHeaders(t, p)
	if !strings.Contains(p.header.Get("Content-Security-Policy"), "form-action 'self' https://app.example") {
		t.Errorf("form-action: %s", p.header.Get("Content-Security-Policy"))
	}
	// A wrong password: the same page, the same message as an unknown user.
	bad := e.login(t, p, "alice", "wrong")
	unknown := e.login(t, p, "nobody", "wrong")
	if bad.status != 401 || unknown.status != 401 || !strings.Contains(bad.body, "incorrect") || !strings.Contains(unknown.body, "incorrect") {
		t.Fatalf("wrong password %d / unknown user %d", bad.status, unknown.status)
	}
	// Consent names the client and describes every scope.
	c := e.login(t, p, "alice", "alice-pw")
	if c.status != 200 || !strings.Contains(c.body, "Web App") || !strings.Contains(c.body, "See your e-mail address") || !strings.Contains(c.body, `value="allow"`) {
		t.Fatalf("consent page: %d %s", c.status, c.body)
	}
	checkPageHeaders(t, c)
	var sso *http.Cookie
	for _, ck := range e.hc.Jar.Cookies(mustURL(e.srv.URL)) {
		if ck.Name == ssoCookie {
			sso = ck
		}
	}
	if sso == nil {
		t.Fatal("no session cookie")
	}
	r := e.post(t, "/oauth/consent", url.Values{"csrf": {c.hidden("csrf")}, "request": {c.hidden("request")}, "decision": {"allow"}})
	loc := r.location(t)
	if r.status != http.StatusSeeOther || loc.Host != "app.example" || loc.Path != "/cb" || loc.Query().Get("state") != "st-1" || loc.Query().Get("iss") != "http://issuer.test" {
		t.Fatalf("response: %d %s", r.status, loc)
	}
	code := loc.Query().Get("code")
	raw, err := base64.RawURLEncoding.DecodeString(code)
	if err != nil || len(raw) != 32 {
		t.Fatalf("code %q is not 256 bits", code)
	}
	rec, first, err := e.store.RedeemCode(context.Background(), codeHash(code))
	if err != nil || !first {
		t.Fatal(err)
	}
	if rec.ClientID != "webapp" || rec.Subject != "alice" || rec.RedirectURI != "https://app.example/cb" || rec.CodeChallenge != s256(signInVerifier) ||
		rec.Nonce != "n-1" || strings.Join(rec.Scopes, " ") != "openid email" || rec.FamilyID == "" || rec.SessionID == "" ||
		!rec.RedeemBy.Equal(e.clock.Now().Add(60*time.Second)) || !rec.ExpiresAt.After(rec.RedeemBy) || !rec.AuthTime.Equal(e.clock.Now()) {
		t.Fatalf("code record %+v", rec)
	}
	// Signed in and consented: the next request goes straight back.
	r2 := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"state": "st-2"}))
	if l := r2.location(t); r2.status != http.StatusFound || l.Query().Get("code") == "" || l.Query().Get("code") == code || l.Query().Get("state") != "st-2" {
		t.Fatalf("second authorize: %d %s", r2.status, l)
	}
	// Another scope set asks again.
	if p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"scope": "openid orders:read"})); p.status != 200 || !strings.Contains(p.body, "Read your orders") {
		t.Fatalf("new scope set: %d", p.status)
	}
	// prompt=consent asks again; prompt=login asks for the password again.
	if p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"prompt": "consent"})); !strings.Contains(p.body, `value="allow"`) {
		t.Fatalf("prompt=consent: %d", p.status)
	}
	pl := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"prompt": "login"}))
	if !strings.Contains(pl.body, `name="password"`) {
		t.Fatalf("prompt=login: %d", pl.status)
	}
	// ... and then goes through (consent remembered), with a new session.
	e.clock.Advance(time.Minute)
	after := e.login(t, pl, "alice", "alice-pw")
	if l := after.location(t); l.Query().Get("code") == "" {
		t.Fatalf("after prompt=login: %s", l)
	}
	for _, ck := range e.hc.Jar.Cookies(mustURL(e.srv.URL)) {
		if ck.Name == ssoCookie && ck.Value == sso.Value {
			t.Fatal("the session id was not renewed at sign-in")
		}
	}
	// max_age: a sign-in older than max_age asks again.
	e.clock.Advance(2 * time.Minute)
	if p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"max_age": "60"})); !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("max_age: %d", p.status)
	}
	if p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"max_age": "3600"})); p.status != http.StatusFound {
		t.Fatalf("max_age within: %d", p.status)
	}
	// The session is absolute.
	e.clock.Advance(DefaultSessionTTL)
	if p := e.get(t, "/oauth/authorize?"+authzQuery(nil)); !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("after session_ttl: %d", p.status)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestAuthorizePromptNoneAndDeny(t *testing.T) {
	e := newSignInEnv(t, nil)
	r := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"prompt": "none"}))
	if l := r.location(t); l.Query().Get("error") != "login_required" || l.Query().Get("state") != "st-1" || l.Query().Get("iss") != "http://issuer.test" {
		t.Fatalf("prompt=none: %s", l)
	}
	p := e.get(t, "/oauth/authorize?"+authzQuery(nil))
	c := e.login(t, p, "alice", "alice-pw")
	if r := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"prompt": "none"})); r.location(t).Query().Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %s", r.location(t))
	}
	d := e.post(t, "/oauth/consent", url.Values{"csrf": {c.hidden("csrf")}, "request": {c.hidden("request")}, "decision": {"deny"}})
	if l := d.location(t); l.Query().Get("error") != "access_denied" || l.Query().Get("code") != "" || l.Query().Get("state") != "st-1" {
		t.Fatalf("deny: %s", l)
	}
	// skip_consent: no consent page.
	r = e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"client_id": "first", "redirect_uri": "https://first.example/cb", "scope": "openid"}))
	if l := r.location(t); l.Query().Get("code") == "" {
		t.Fatalf("skip_consent: %d %s", r.status, r.body)
	}
}

func TestAuthorizeErrorPages(t *testing.T) {
	e := newSignInEnv(t, nil)
	for name, q := range map[string]string{
		"unknown client":      authzQuery(map[string]string{"client_id": "nope"}),
		"no client":           authzQuery(map[string]string{"client_id": ""}),
		"disabled client":     authzQuery(map[string]string{"client_id": "off"}),
		"other redirect":      authzQuery(map[string]string{"redirect_uri": "https://evil.example/cb"}),
		"prefix redirect":     authzQuery(map[string]string{"redirect_uri": "https://app.example/cb/x"}),
		"case redirect":       authzQuery(map[string]string{"redirect_uri": "https://APP.example/cb"}),
		"extra query":         authzQuery(map[string]string{"redirect_uri": "https://app.example/cb?a=b"}),
		"no redirect":         authzQuery(map[string]string{"redirect_uri": ""}),
		"repeated client_id":  authzQuery(nil) + "&client_id=webapp",
		"loopback other path": authzQuery(map[string]string{"client_id": "native", "redirect_uri": "http://127.0.0.1:5000/other"}),
		"loopback other host": authzQuery(map[string]string{"client_id": "native", "redirect_uri": "http://127.0.0.2:5000/callback"}),
		"loopback https":      authzQuery(map[string]string{"client_id": "native", "redirect_uri": "https://127.0.0.1:5000/callback"}),
		"web port":            authzQuery(map[string]string{"redirect_uri": "https://app.example:8443/cb"}),
	} {
		p := e.get(t, "/oauth/authorize?"+q)
		if p.status != 400 || p.header.Get("Location") != "" || !strings.Contains(p.body, "<h1>") {
			t.Errorf("%s: %d Location=%q", name, p.status, p.header.Get("Location"))
		}
		checkPageHeaders(t, p)
	}
	if p := e.get(t, "/oauth/authorize?"+strings.Repeat("a", maxAuthorizeQuery+1)); p.status != http.StatusRequestURITooLong || p.header.Get("Location") != "" {
		t.Errorf("oversized: %d", p.status)
	}
}

func TestAuthorizeRedirectErrors(t *testing.T) {
	e := newSignInEnv(t, nil)
	for name, c := range map[string]struct{ q, code string }{
		"plain pkce":         {authzQuery(map[string]string{"code_challenge_method": "plain", "code_challenge": signInVerifier}), "invalid_request"},
		"no method":          {authzQuery(map[string]string{"code_challenge_method": ""}), "invalid_request"},
		"no challenge":       {authzQuery(map[string]string{"code_challenge": ""}), "invalid_request"},
		"short challenge":    {authzQuery(map[string]string{"code_challenge": "abc"}), "invalid_request"},
		"no response_type":   {authzQuery(map[string]string{"response_type": ""}), "invalid_request"},
		"id_token":           {authzQuery(map[string]string{"response_type": "id_token"}), "unsupported_response_type"},
		"token not implicit": {authzQuery(map[string]string{"response_type": "token"}), "unauthorized_client"},
		"bad scope":          {authzQuery(map[string]string{"scope": "openid admin"}), "invalid_scope"},
		"prompt mix":         {authzQuery(map[string]string{"prompt": "none login"}), "invalid_request"},
		"prompt unknown":     {authzQuery(map[string]string{"prompt": "maybe"}), "invalid_request"},
		"max_age":            {authzQuery(map[string]string{"max_age": "-1"}), "invalid_request"},
		"request object":     {authzQuery(map[string]string{"request": "eyJ"}), "request_not_supported"},
		"request_uri":        {authzQuery(map[string]string{"request_uri": "https://x"}), "request_uri_not_supported"},
		"repeated state":     {authzQuery(nil) + "&state=x", "invalid_request"},
		"response_mode":      {authzQuery(map[string]string{"response_mode": "form_post"}), "invalid_request"},
		"long state":         {authzQuery(map[string]string{"state": strings.Repeat("s", maxStateBytes+1)}), "invalid_request"},
	} {
		p := e.get(t, "/oauth/authorize?"+c.q)
		l := p.location(t)
		if p.status != http.StatusFound || l.Host != "app.example" || l.Query().Get("error") != c.code || l.Query().Get("iss") != "http://issuer.test" || l.Query().Get("error_description") == "" {
			t.Errorf("%s: %d %s", name, p.status, l)
		}
		if name != "repeated state" && name != "long state" && l.Query().Get("state") != "st-1" {
			t.Errorf("%s: state %q", name, l.Query().Get("state"))
		}
	}
	// A registered redirect_uri with a query keeps it.
	p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"redirect_uri": "https://app.example/cb2?x=1", "prompt": "none"}))
	if l := p.location(t); l.Query().Get("x") != "1" || l.Query().Get("error") != "login_required" || l.Path != "/cb2" {
		t.Fatalf("redirect with query: %s", l)
	}
}

func TestAuthorizeLoopbackPort(t *testing.T) {
	e := newSignInEnv(t, nil)
	for _, ru := range []string{"http://127.0.0.1:53122/callback", "http://127.0.0.1/callback", "http://[::1]:8080/cb"} {
		p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"client_id": "native", "redirect_uri": ru, "scope": "openid", "prompt": "none"}))
		if l := p.location(t); l.Query().Get("error") != "login_required" || !strings.HasPrefix(p.header.Get("Location"), ru+"?") {
			t.Errorf("%s: %s", ru, p.header.Get("Location"))
		}
	}
}

func TestLoginCSRF(t *testing.T) {
	e := newSignInEnv(t, nil)
	p := e.get(t, "/oauth/authorize?"+authzQuery(nil))
	wrong := "x" + p.hidden("csrf")[1:]
	if wrong == p.hidden("csrf") { // 1 in 64: the token began with x
		wrong = "y" + wrong[1:]
	}
	for name, tok := range map[string]string{"missing": "", "wrong": wrong} {
		r := e.post(t, "/oauth/login", url.Values{"csrf": {tok}, "request": {p.hidden("request")}, "username": {"alice"}, "password": {"alice-pw"}})
		if r.status != http.StatusForbidden || r.header.Get("Location") != "" || strings.Contains(r.body, `value="allow"`) {
			t.Errorf("%s csrf: %d", name, r.status)
		}
	}
	// A CSRF token from another browser (another cookie) does not work.
	jar, _ := cookiejar.New(nil)
	e2 := &signInEnv{testEnv: e.testEnv, srv: e.srv, hc: &http.Client{Jar: jar, CheckRedirect: e.hc.CheckRedirect}}
	e2.get(t, "/oauth/authorize?"+authzQuery(nil))
	if r := e2.login(t, p, "alice", "alice-pw"); r.status != http.StatusForbidden {
		t.Errorf("another browser's token: %d", r.status)
	}
	// The consent form needs it too.
	c := e.login(t, p, "alice", "alice-pw")
	if r := e.post(t, "/oauth/consent", url.Values{"request": {c.hidden("request")}, "decision": {"allow"}}); r.status != http.StatusForbidden || r.header.Get("Location") != "" {
		t.Errorf("consent without csrf: %d", r.status)
	}
	// A tampered request in the form is re-checked.
	req := strings.Replace(c.hidden("request"), "redirect_uri=https%3A%2F%2Fapp.example%2Fcb", "redirect_uri=https%3A%2F%2Fevil.example%2Fcb", 1)
	if r := e.post(t, "/oauth/consent", url.Values{"csrf": {c.hidden("csrf")}, "request": {req}, "decision": {"allow"}}); r.status != 400 || r.header.Get("Location") != "" {
		t.Errorf("tampered request: %d %s", r.status, r.header.Get("Location"))
	}
}

func TestLoginThrottledPage(t *testing.T) {
	e := newSignInEnv(t, nil)
	p := e.get(t, "/oauth/authorize?"+authzQuery(nil))
	for n := 0; n < ThrottleFreePerUser; n++ {
		if r := e.login(t, p, "alice", "nope"); r.status != 401 {
			t.Fatalf("attempt %d: %d", n, r.status)
		}
	}
	r := e.login(t, p, "alice", "alice-pw")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" || !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("throttled: %d %v", r.status, r.header)
	}
}

func TestLanguageAndStyle(t *testing.T) {
	e := newSignInEnv(t, nil)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/oauth/authorize?"+authzQuery(nil), nil)
	req.Header.Set("Accept-Language", "ja-JP,ja;q=0.9,en;q=0.8")
	p := e.send(t, req)
	if !strings.Contains(p.body, `lang="ja"`) || !strings.Contains(p.body, "パスワード") {
		t.Fatalf("Japanese page: %s", p.body)
	}
	for h, want := range map[string]string{"": "en", "fr, ja;q=0.5": "ja", "ja;q=0.2, en;q=0.9": "en", "ja;q=0": "en", "EN-gb": "en", "ja-jp": "ja", "ja;q=abc": "en"} {
		if got := pickLang(h); got != want {
			t.Errorf("pickLang(%q) = %s, want %s", h, got, want)
		}
	}
	m := regexp.MustCompile(`href="([^"]+style.css[^"]*)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no stylesheet link")
	}
	css := e.get(t, html.UnescapeString(m[1]))
	if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, ".card") {
		t.Fatalf("style: %d", css.status)
	}
}

func TestLogout(t *testing.T) {
	e := newSignInEnv(t, nil)
	p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"client_id": "first", "redirect_uri": "https://first.example/cb", "scope": "openid"}))
	if r := e.login(t, p, "alice", "alice-pw"); r.location(t).Query().Get("code") == "" {
		t.Fatal("sign-in")
	}
	// Without a hint: a confirmation page, not a sign-out.
	c := e.get(t, "/oauth/logout")
	if c.status != 200 || !strings.Contains(c.body, `name="confirm"`) {
		t.Fatalf("confirmation: %d %s", c.status, c.body)
	}
	checkPageHeaders(t, c)
	// An unregistered post_logout_redirect_uri is refused.
	if r := e.get(t, "/oauth/logout?client_id=webapp&post_logout_redirect_uri=https://evil.example/"); r.status != 400 || r.header.Get("Location") != "" {
		t.Fatalf("unregistered target: %d", r.status)
	}
	// A forged hint is refused.
	if r := e.get(t, "/oauth/logout?id_token_hint=eyJhbGciOiJub25lIn0.e30."); r.status != 400 {
		t.Fatalf("forged hint: %d", r.status)
	}
	// Confirming without the CSRF token does nothing.
	if r := e.post(t, "/oauth/logout", url.Values{"confirm": {"yes"}}); r.status != http.StatusForbidden {
		t.Fatalf("no csrf: %d", r.status)
	}
	r := e.post(t, "/oauth/logout", url.Values{"confirm": {"yes"}, "csrf": {c.hidden("csrf")}, "client_id": {"webapp"},
		"post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"s9"}})
	if l := r.location(t); l.String() != "https://app.example/bye?state=s9" {
		t.Fatalf("logout redirect: %s", l)
	}
	// Signed out: the next authorize asks for the password.
	if p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"client_id": "first", "redirect_uri": "https://first.example/cb", "scope": "openid"})); !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("after logout: %d", p.status)
	}
	if r := e.get(t, "/oauth/logout"); r.status != 200 || !strings.Contains(r.body, "signed out") {
		t.Fatalf("logout without a session: %d %s", r.status, r.body)
	}
}

func TestDisabledUserLosesSession(t *testing.T) {
	e := newSignInEnv(t, nil)
	ctx := context.Background()
	e.store.PutUser(ctx, storeUser(t, "dave", "dave-pw", false))
	p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"client_id": "first", "redirect_uri": "https://first.example/cb", "scope": "openid"}))
	if r := e.login(t, p, "dave", "dave-pw"); r.location(t).Query().Get("code") == "" {
		t.Fatal("sign-in")
	}
	e.store.PutUser(ctx, storeUser(t, "dave", "dave-pw", true))
	if p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"client_id": "first", "redirect_uri": "https://first.example/cb", "scope": "openid", "prompt": "none"})); p.location(t).Query().Get("error") != "login_required" {
		t.Fatalf("disabled user's session still works: %s", p.location(t))
	}
}

func (e *signInEnv) codeFor(t *testing.T, overrides map[string]string) string {
	t.Helper()
	p := e.get(t, "/oauth/authorize?"+authzQuery(overrides))
	if strings.Contains(p.body, `name="password"`) {
		p = e.login(t, p, "alice", "alice-pw")
	}
	if strings.Contains(p.body, `value="allow"`) {
		p = e.post(t, "/oauth/consent", url.Values{"csrf": {p.hidden("csrf")}, "request": {p.hidden("request")}, "decision": {"allow"}})
	}
	return p.location(t).Query().Get("code")
}

func (e *signInEnv) exchange(t *testing.T, code, verifier, redirectURI string) (int, map[string]any) {
	t.Helper()
	return e.tokenCall(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirectURI}})
}

// tokenCall posts form to the token endpoint as the webapp client.
func (e *signInEnv) tokenCall(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("webapp", "web-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestAuthorizeCodeExchange(t *testing.T) {
	e := newSignInEnv(t, nil)
	code := e.codeFor(t, nil)
	if st, body := e.exchange(t, code, signInVerifier, "https://app.example/cb"); st != 200 || body["access_token"] == nil || body["id_token"] == nil {
		t.Fatalf("exchange: %d %v", st, body)
	}
	code2 := e.codeFor(t, nil)
	if st, body := e.exchange(t, code2, strings.Repeat("x", 43), "https://app.example/cb"); st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", st, body)
	}
	code3 := e.codeFor(t, nil)
	e.clock.Advance(codeRedeemWindow + time.Second)
	if st, body := e.exchange(t, code3, signInVerifier, "https://app.example/cb"); st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("late code: %d %v", st, body)
	}
}

func TestAuthorizeImplicit(t *testing.T) {
	e := newSignInEnv(t, nil)
	l := e.implicitAsAlice(t)
	frag, _ := url.ParseQuery(l.Fragment)
	if l.RawQuery != "" || frag.Get("access_token") == "" || frag.Get("token_type") != "Bearer" || frag.Get("refresh_token") != "" ||
		frag.Get("state") != "st-1" || frag.Get("iss") != "http://issuer.test" {
		t.Fatalf("implicit response: %s", l)
	}
	// response_mode=query is refused for tokens, in the fragment.
	p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"client_id": "spa", "response_type": "token", "scope": "read", "response_mode": "query"}))
	if l := p.location(t); !strings.Contains(l.Fragment, "error=invalid_request") {
		t.Fatalf("token in query: %s", l)
	}
}

func TestSignInHostileInput(t *testing.T) {
	e := newSignInEnv(t, nil)
	p := e.get(t, "/oauth/authorize?"+authzQuery(nil))
	post := func(path, ct, body string) page {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		return e.send(t, req)
	}
	form := "application/x-www-form-urlencoded"
	good := url.Values{"csrf": {p.hidden("csrf")}, "request": {p.hidden("request")}, "username": {"alice"}, "password": {"alice-pw"}}.Encode()
	for name, c := range map[string]struct {
		path, ct, body string
		status         int
	}{
		"oversized body":     {"/oauth/login", form, good + "&x=" + strings.Repeat("a", MaxFormBytes), http.StatusRequestEntityTooLarge},
		"json body":          {"/oauth/login", "application/json", `{"username":"alice"}`, 400},
		"repeated password":  {"/oauth/login", form, good + "&password=other", 400},
		"no request":         {"/oauth/login", form, "csrf=" + url.QueryEscape(p.hidden("csrf")) + "&username=alice&password=alice-pw", 400},
		"malformed request":  {"/oauth/login", form, "request=%25zz&csrf=x", 400},
		"consent no request": {"/oauth/consent", form, "decision=allow", 400},
		"invalid utf-8":      {"/oauth/login", form, good + "&username=%ff", 400},
	} {
		r := post(c.path, c.ct, c.body)
		if r.status != c.status || r.header.Get("Location") != "" {
			t.Errorf("%s: %d (want %d) Location %q", name, r.status, c.status, r.header.Get("Location"))
		}
		checkPageHeaders(t, r)
	}
	// A long user name is not echoed beyond the bound, and costs one hash.
	r := e.post(t, "/oauth/login", url.Values{"csrf": {p.hidden("csrf")}, "request": {p.hidden("request")}, "username": {strings.Repeat("n", 4000)}, "password": {"x"}})
	if r.status != 401 || strings.Contains(r.body, strings.Repeat("n", 300)) {
		t.Fatalf("long name: %d", r.status)
	}
	// A forged session cookie is nobody.
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: ssoCookie, Value: strings.Repeat("A", 43)}})
	e2 := &signInEnv{testEnv: e.testEnv, srv: e.srv, hc: &http.Client{Jar: jar, CheckRedirect: e.hc.CheckRedirect}}
	if r := e2.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"prompt": "none"})); r.location(t).Query().Get("error") != "login_required" {
		t.Fatalf("forged cookie: %s", r.location(t))
	}
	// Methods.
	for path, method := range map[string]string{"/oauth/login": http.MethodGet, "/oauth/consent": http.MethodGet, "/oauth/authorize": http.MethodPut, "/oauth/logout": http.MethodDelete} {
		req, _ := http.NewRequest(method, e.srv.URL+path, nil)
		if r := e.send(t, req); r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d", method, path, r.status)
		}
	}
}

func TestSignInCookiesOnHTTPS(t *testing.T) {
	e := newSignInEnv(t, func(c *Config) { c.Issuer = "https://issuer.test" })
	rec := httptest.NewRecorder()
	e.iss.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+authzQuery(nil), nil))
	p := page{rec.Code, rec.Header(), rec.Body.String()}
	var csrf *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "__Host-"+csrfCookie {
			csrf = c
		}
	}
	if csrf == nil || !csrf.Secure || !csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode || csrf.Path != "/" {
		t.Fatalf("CSRF cookie %+v", csrf)
	}
	req := httptest.NewRequest(http.MethodPost, "/oauth/login", strings.NewReader(url.Values{"csrf": {p.hidden("csrf")}, "request": {p.hidden("request")},
		"username": {"alice"}, "password": {"alice-pw"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrf)
	rec = httptest.NewRecorder()
	e.iss.ServeHTTP(rec, req)
	var sso *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "__Host-"+ssoCookie {
			sso = c
		}
	}
	if rec.Code != 200 || sso == nil || !sso.Secure || !sso.HttpOnly || sso.SameSite != http.SameSiteLaxMode || sso.Path != "/" || sso.Domain != "" ||
		!sso.Expires.Equal(e.clock.Now().Add(DefaultSessionTTL).Truncate(time.Second)) {
		t.Fatalf("session cookie %+v (status %d)", sso, rec.Code)
	}
	// The store holds a hash of the cookie, never the cookie.
	if _, err := e.store.GetSession(context.Background(), kindSSO, sso.Value); err == nil {
		t.Fatal("session stored under the cookie value")
	}
	if _, err := e.store.GetSession(context.Background(), kindSSO, e.iss.hashID(kindSSO, sso.Value)); err != nil {
		t.Fatalf("session record: %v", err)
	}
}
