package issuer

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzAuthorizeParams feeds arbitrary query strings to the authorization
// request parser: it never panics, never trusts an unregistered
// redirect_uri, and what it accepts satisfies the PKCE and response_type
// rules.
func FuzzAuthorizeParams(f *testing.F) {
	f.Add(authzQuery(nil))
	f.Add(authzQuery(map[string]string{"client_id": "native", "redirect_uri": "http://127.0.0.1:1234/callback"}))
	f.Add(authzQuery(map[string]string{"redirect_uri": "https://app.example/cb?x=1#f"}))
	f.Add(authzQuery(map[string]string{"prompt": "none login", "max_age": "99999999999999999999"}))
	f.Add("client_id=webapp&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=token&scope=%00")
	f.Add("client_id=native&redirect_uri=http://[::1]:80/cb&response_type=code&code_challenge_method=S256&code_challenge=" + strings.Repeat("A", 43))
	e := newSignInEnv(f, nil)
	f.Fuzz(func(t *testing.T, q string) {
		vals, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		req, pageErr, oe := e.iss.parseAuthorize(vals)
		if pageErr != nil {
			return
		}
		if req == nil || req.client == nil || !req.client.matchRedirect(req.redirectURI) {
			t.Fatalf("redirect to an unverified target: %+v", req)
		}
		if oe != nil {
			return
		}
		if req.responseType == "code" && !validS256Challenge(req.challenge) {
			t.Fatalf("code without an S256 challenge: %q", q)
		}
		if req.responseType != "code" && req.responseType != "token" {
			t.Fatalf("response_type %q accepted", req.responseType)
		}
		if req.responseType == "token" && !req.client.allowsGrant(GrantImplicit) {
			t.Fatalf("implicit for a non-implicit client: %q", q)
		}
		for _, s := range req.scopes {
			if !req.client.hasScope(s) {
				t.Fatalf("scope %q not allowed", s)
			}
		}
		// What the forms carry parses back to the same request.
		again, pe, oe2 := e.iss.parseAuthorize(mustQuery(req.raw))
		if pe != nil || oe2 != nil || again.redirectURI != req.redirectURI || again.challenge != req.challenge {
			t.Fatalf("the carried request differs: %q", req.raw)
		}
	})
}

func mustQuery(s string) url.Values { v, _ := url.ParseQuery(s); return v }

// FuzzSignInForms posts arbitrary bodies to the login and consent forms
// (with and without the browser's CSRF cookie): never a 5xx other than a
// busy 503, and every redirect goes to a registered redirect_uri.
func FuzzSignInForms(f *testing.F) {
	e := newSignInEnv(f, nil)
	// A CSRF cookie and its token, from a real login page.
	rec := httptest.NewRecorder()
	e.iss.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+authzQuery(nil), nil))
	var csrfC *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == csrfCookie {
			csrfC = c
		}
	}
	p := page{rec.Code, rec.Header(), rec.Body.String()}
	good := url.Values{"csrf": {p.hidden("csrf")}, "request": {p.hidden("request")}, "username": {"alice"}, "password": {"wrong"}}.Encode()
	f.Add("/oauth/login", good, true)
	f.Add("/oauth/consent", good+"&decision=allow", true)
	f.Add("/oauth/login", "request=%zz&csrf=1", false)
	f.Add("/oauth/consent", "request="+url.QueryEscape(authzQuery(map[string]string{"redirect_uri": "https://evil.example/"}))+"&decision=allow", true)
	f.Add("/oauth/logout", "confirm=yes&post_logout_redirect_uri=https://evil.example/&client_id=webapp", true)
	f.Fuzz(func(t *testing.T, path, body string, withCookie bool) {
		if path != "/oauth/login" && path != "/oauth/consent" && path != "/oauth/logout" {
			path = "/oauth/login"
		}
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if withCookie && csrfC != nil {
			r.AddCookie(csrfC)
		}
		w := httptest.NewRecorder()
		e.iss.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %q: %d", path, body, w.Code)
		}
		if loc := w.Header().Get("Location"); loc != "" {
			u, err := url.Parse(loc)
			if err != nil || (u.Host != "app.example" && u.Host != "first.example" && u.Hostname() != "127.0.0.1" && u.Hostname() != "::1") {
				t.Fatalf("%s %q: redirect to %q", path, body, loc)
			}
		}
		if w.Code == http.StatusOK && w.Header().Get("Content-Security-Policy") == "" {
			t.Fatalf("page without CSP")
		}
	})
}
