package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/argon2"

	"github.com/authgate/caddy-authgate/handlers/issuer"
	"github.com/authgate/caddy-authgate/internal/testutil/browser"
)

// Sign-in tests: ports 9550 (Caddy: issuer + gateway), 9551 (the relying
// party's callback), 9552 (the upstream behind the gateway).
const (
	siBase     = "http://127.0.0.1:9550"
	siCallback = "http://127.0.0.1:9551/callback"
	siVerifier = "integration-code-verifier-0123456789-abcdefghij"
)

func siChallenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// siCaddyfile: an issuer with people and a web client, and a gateway on
// /api/* that forwards the user as X-User.
func siCaddyfile(t *testing.T, db string) string {
	t.Helper()
	hash := func(pw string) string { return siHash(t, pw) }
	users := filepath.Join(filepath.Dir(db), "users.json")
	if err := os.WriteFile(users, []byte(`[{"name":"fiona","password_hash":"`+hash("fiona-password")+`","claims":{"email":"fiona@example.com"}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	return boltGlobals(9550, db) + fmt.Sprintf(`http://127.0.0.1:9550 {
	authgate_issuer {
		issuer %s
		scope_description orders:read "Read your orders"
		user alice {
			password_hash %s
			claim email alice@example.com
			claim name "Alice Example"
		}
		user hanako {
			password_hash %s
			claim name "山田 花子"
		}
		user bob {
			password_hash %s
		}
		users_file %s
		client web-app {
			name "Orders Web"
			secret web-secret
			redirect_uri %s
			post_logout_redirect_uri http://127.0.0.1:9551/
			grant_types authorization_code refresh_token
			scopes openid profile email orders:read
		}
	}
	handle /api/* {
		authgate {
			issuer %s
			audience %s
			header X-User sub
		}
		reverse_proxy 127.0.0.1:9552
	}
	handle {
		respond "site"
	}
}
`, siBase, hash("alice-password"), hash("hanako-password"), hash("bob-password"), users, siCallback, siBase, siBase)
}

// siHash is a password_hash for the tests' people: argon2id, verified by
// the issuer like any other, with small parameters (256 KiB, one pass) where
// what a test shows is the sign-in and not the cost of the hash:
// issuer.HashPassword's 19 MiB and two passes take about 40 ms per hash and
// per verification, 190 ms under -race.
func siHash(t *testing.T, pw string) string {
	t.Helper()
	const m, passes, lanes = 256, 1, 1
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	key := argon2.IDKey([]byte(pw), salt, passes, m, lanes, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, passes, lanes,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// siRP is the relying party's callback: it records what the issuer sends.
type siRP struct {
	mu   sync.Mutex
	last url.Values
	got  chan url.Values
}

func siServe(t *testing.T, addr string, h http.Handler) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func siStart(t *testing.T) *siRP {
	t.Helper()
	rp := &siRP{got: make(chan url.Values, 16)}
	siServe(t, "127.0.0.1:9551", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			rp.got <- r.URL.Query()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>RP</title><h1 id=rp>back at the app</h1>")
	}))
	siServe(t, "127.0.0.1:9552", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "user="+r.Header.Get("X-User"))
	}))
	issStart(t, siCaddyfile(t, filepath.Join(t.TempDir(), "authgate.db")))
	return rp
}

func (rp *siRP) wait(t *testing.T) url.Values {
	t.Helper()
	select {
	case v := <-rp.got:
		return v
	case <-time.After(20 * time.Second):
		t.Fatal("the browser never reached the client's redirect_uri")
		return nil
	}
}

func siAuthorizeURL(overrides map[string]string) string {
	v := url.Values{"response_type": {"code"}, "client_id": {"web-app"}, "redirect_uri": {siCallback},
		"scope": {"openid profile email orders:read"}, "state": {"state-123"}, "nonce": {"nonce-456"},
		"code_challenge": {siChallenge(siVerifier)}, "code_challenge_method": {"S256"}}
	for k, val := range overrides {
		v.Set(k, val)
	}
	return siBase + "/oauth/authorize?" + v.Encode()
}

// siShot writes a screenshot to $AUTHGATE_SCREENSHOTS (the repository's
// docs/screenshots when refreshing them) or the test's temp dir.
func siShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("AUTHGATE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	browser.Screenshot(t, ctx, filepath.Join(dir, name))
}

func siToken(t *testing.T, form url.Values) issResp {
	t.Helper()
	return issPost(t, http.DefaultClient, siBase+"/oauth/token", form, "web-app", "web-secret")
}

func siAPI(t *testing.T, at string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, siBase+"/api/hello", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	r := issDo(t, http.DefaultClient, req)
	return r.status, r.raw
}

// TestSignInBrowser: a real Chromium signs in and consents through a real
// Caddy with a bbolt store; the code is exchanged, the access token passes
// the gateway, refresh rotates and a replayed refresh token revokes the
// family.
func TestSignInBrowser(t *testing.T) {
	t.Parallel()
	browser.Start(t, browser.Options{Lang: "en-US", Width: 640, Height: 640})
	holdInProcessCaddy(t)
	rp := siStart(t)
	ctx := browser.New(t, browser.Options{Lang: "en-US", Width: 640, Height: 640})

	err := chromedp.Do(ctx, chromedp.Navigate(siAuthorizeURL(nil)), chromedp.WaitVisible(`input[name=username]`))
	if err != nil {
		t.Fatal(err)
	}
	siShot(t, ctx, "login-en.png")
	// A wrong password first: the page says so, nothing else.
	if err := chromedp.Do(ctx, chromedp.SendKeys(`#username`, "alice"), chromedp.SendKeys(`#password`, "wrong"),
		chromedp.Click(`button[type=submit]`), chromedp.WaitVisible(`.alert`)); err != nil {
		t.Fatal(err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(`.alert`)); !strings.Contains(msg, "incorrect") {
		t.Fatalf("wrong password message %q", msg)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(`#password`, "alice-password"),
		chromedp.Click(`button[type=submit]`), chromedp.WaitVisible(`button[value=allow]`)); err != nil {
		t.Fatal(err)
	}
	page, _ := chromedp.Run(ctx, chromedp.Text(`.card`))
	if !strings.Contains(page, "Orders Web") || !strings.Contains(page, "Read your orders") || !strings.Contains(page, "alice") {
		t.Fatalf("consent page: %q", page)
	}
	siShot(t, ctx, "consent-en.png")
	if err := chromedp.Do(ctx, chromedp.Click(`button[value=allow]`)); err != nil {
		t.Fatal(err)
	}
	cb := rp.wait(t)
	if cb.Get("state") != "state-123" || cb.Get("iss") != siBase || cb.Get("code") == "" {
		t.Fatalf("callback %v", cb)
	}

	// The code is exchanged (once).
	r := siToken(t, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "redirect_uri": {siCallback}, "code_verifier": {siVerifier}})
	if r.status != 200 || r.body["access_token"] == nil || r.body["refresh_token"] == nil || r.body["id_token"] == nil {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	at, rt := r.body["access_token"].(string), r.body["refresh_token"].(string)
	if st, body := siAPI(t, at); st != 200 || body != "user=alice" {
		t.Fatalf("gateway: %d %q", st, body)
	}

	// A second app visit: signed in and consented, straight back.
	if err := chromedp.Do(ctx, chromedp.Navigate(siAuthorizeURL(map[string]string{"state": "s2"}))); err != nil {
		t.Fatal(err)
	}
	cb2 := rp.wait(t)
	if cb2.Get("state") != "s2" || cb2.Get("code") == "" {
		t.Fatalf("SSO callback %v", cb2)
	}
	r2 := siToken(t, url.Values{"grant_type": {"authorization_code"}, "code": {cb2.Get("code")}, "redirect_uri": {siCallback}, "code_verifier": {siVerifier}})
	if r2.status != 200 {
		t.Fatalf("second exchange: %d %s", r2.status, r2.raw)
	}

	// Refresh rotates.
	ref := siToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if ref.status != 200 || ref.body["refresh_token"] == rt || ref.body["access_token"] == at {
		t.Fatalf("refresh: %d %s", ref.status, ref.raw)
	}
	at2 := ref.body["access_token"].(string)
	if st, body := siAPI(t, at2); st != 200 || body != "user=alice" {
		t.Fatalf("gateway after refresh: %d %q", st, body)
	}
	// Replaying the spent refresh token fails and revokes the family: the
	// gateway refuses the family's access token at once.
	if replay := siToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); replay.status != 400 || replay.body["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %s", replay.status, replay.raw)
	}
	if st, _ := siAPI(t, at2); st != http.StatusUnauthorized {
		t.Fatalf("the revoked family's access token: %d, want 401", st)
	}
	// The other sign-in's tokens are another family: still good, until its
	// code is replayed (RFC 6749 §4.1.2: what the code issued is revoked).
	at3 := r2.body["access_token"].(string)
	if st, _ := siAPI(t, at3); st != 200 {
		t.Fatalf("another family: %d", st)
	}
	if again := siToken(t, url.Values{"grant_type": {"authorization_code"}, "code": {cb2.Get("code")}, "redirect_uri": {siCallback}, "code_verifier": {siVerifier}}); again.status != 400 || again.body["error"] != "invalid_grant" {
		t.Fatalf("second redemption: %d %s", again.status, again.raw)
	}
	if st, _ := siAPI(t, at3); st != http.StatusUnauthorized {
		t.Fatalf("access token of a replayed code: %d, want 401", st)
	}

	// PKCE with a wrong verifier fails.
	if err := chromedp.Do(ctx, chromedp.Navigate(siAuthorizeURL(map[string]string{"state": "s3"}))); err != nil {
		t.Fatal(err)
	}
	cb3 := rp.wait(t)
	if bad := siToken(t, url.Values{"grant_type": {"authorization_code"}, "code": {cb3.Get("code")}, "redirect_uri": {siCallback}, "code_verifier": {siVerifier + "x"}}); bad.status != 400 || bad.body["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %s", bad.status, bad.raw)
	}

	// A redirect_uri that is not registered: the error page, no redirect.
	if err := chromedp.Do(ctx, chromedp.Navigate(siAuthorizeURL(map[string]string{"redirect_uri": "http://127.0.0.1:9551/elsewhere"})), chromedp.WaitVisible(`.alert`)); err != nil {
		t.Fatal(err)
	}
	siShot(t, ctx, "error-en.png")
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	msg, _ := chromedp.Run(ctx, chromedp.Text(`.card`))
	if !strings.HasPrefix(loc, siBase+"/oauth/authorize") || !strings.Contains(msg, "not registered") {
		t.Fatalf("mismatched redirect_uri: at %s: %q", loc, msg)
	}
	select {
	case v := <-rp.got:
		t.Fatalf("the client was called back: %v", v)
	default:
	}

	// Sign out (the confirmation page, then the registered target).
	if err := chromedp.Do(ctx, chromedp.Navigate(siBase+"/oauth/logout?client_id=web-app&post_logout_redirect_uri="+url.QueryEscape("http://127.0.0.1:9551/")),
		chromedp.WaitVisible(`button[name=confirm]`)); err != nil {
		t.Fatal(err)
	}
	siShot(t, ctx, "logout-en.png")
	if err := chromedp.Do(ctx, chromedp.Click(`button[name=confirm]`), chromedp.WaitVisible(`#rp`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(siAuthorizeURL(nil)), chromedp.WaitVisible(`input[name=password]`)); err != nil {
		t.Fatalf("after sign-out the login page: %v", err)
	}
}

// TestSignInBrowserJapanese: the pages in Japanese, chosen by the
// browser's Accept-Language.
func TestSignInBrowserJapanese(t *testing.T) {
	t.Parallel()
	browser.Start(t, browser.Options{Lang: "ja", Width: 640, Height: 640})
	holdInProcessCaddy(t)
	rp := siStart(t)
	ctx := browser.New(t, browser.Options{Lang: "ja", Width: 640, Height: 640})
	if err := chromedp.Do(ctx, chromedp.Navigate(siAuthorizeURL(nil)), chromedp.WaitVisible(`input[name=username]`)); err != nil {
		t.Fatal(err)
	}
	if label, _ := chromedp.Run(ctx, chromedp.Text(`label[for=password]`)); label != "パスワード" {
		t.Fatalf("password label %q", label)
	}
	siShot(t, ctx, "login-ja.png")
	if err := chromedp.Do(ctx, chromedp.SendKeys(`#username`, "hanako"), chromedp.SendKeys(`#password`, "hanako-password"),
		chromedp.Click(`button[type=submit]`), chromedp.WaitVisible(`button[value=allow]`)); err != nil {
		t.Fatal(err)
	}
	if text, _ := chromedp.Run(ctx, chromedp.Text(`.card`)); !strings.Contains(text, "アクセスを許可しますか") || !strings.Contains(text, "メールアドレス") {
		t.Fatalf("consent page: %q", text)
	}
	siShot(t, ctx, "consent-ja.png")
	if err := chromedp.Do(ctx, chromedp.Click(`button[value=deny]`)); err != nil {
		t.Fatal(err)
	}
	if cb := rp.wait(t); cb.Get("error") != "access_denied" || cb.Get("code") != "" || cb.Get("iss") != siBase {
		t.Fatalf("deny: %v", cb)
	}
}

// TestSignInForms: the forms through Caddy without a browser: CSRF missing
// is refused, and failed sign-ins are throttled.
func TestSignInForms(t *testing.T) {
	useInProcessCaddy(t)
	siStart(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := issDo(t, c, mustReq(t, http.MethodGet, siAuthorizeURL(nil)))
	if page.status != 200 {
		t.Fatalf("login page: %d", page.status)
	}
	for _, h := range []string{"Content-Security-Policy", "Referrer-Policy", "Cache-Control"} {
		if page.header.Get(h) == "" {
			t.Fatalf("no %s", h)
		}
	}
	if csp := page.header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	csrf, request := siHidden(page.raw, "csrf"), siHidden(page.raw, "request")
	post := func(f url.Values) issResp {
		req := mustReq(t, http.MethodPost, siBase+"/oauth/login")
		req.Body = io.NopCloser(strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return issDo(t, c, req)
	}
	if r := post(url.Values{"request": {request}, "username": {"alice"}, "password": {"alice-password"}}); r.status != http.StatusForbidden || r.header.Get("Location") != "" {
		t.Fatalf("without the CSRF token: %d", r.status)
	}
	for n := 1; n <= issuer.ThrottleFreePerUser; n++ {
		if r := post(url.Values{"csrf": {csrf}, "request": {request}, "username": {"bob"}, "password": {"guess"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", n, r.status)
		}
	}
	r := post(url.Values{"csrf": {csrf}, "request": {request}, "username": {"bob"}, "password": {"bob-password"}})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("throttled: %d %v", r.status, r.header)
	}
	// Another user from the same address is not locked out by bob's.
	if r := post(url.Values{"csrf": {csrf}, "request": {request}, "username": {"alice"}, "password": {"alice-password"}}); r.status != 200 {
		t.Fatalf("alice: %d", r.status)
	}
	// A user of the users file signs in too.
	if r := post(url.Values{"csrf": {csrf}, "request": {request}, "username": {"fiona"}, "password": {"fiona-password"}}); r.status != 200 || !strings.Contains(r.raw, `value="allow"`) {
		t.Fatalf("users_file user: %d", r.status)
	}
	// The failures are counted in Prometheus.
	m := issDo(t, http.DefaultClient, mustReq(t, http.MethodGet, "http://localhost:2999/metrics"))
	if !strings.Contains(m.raw, `authgate_issuer_logins_total{result="throttled"}`) {
		t.Fatalf("no throttled counter in /metrics")
	}
}

func mustReq(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func siHidden(body, name string) string {
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}
