package integration

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

const (
	admCallback = "http://127.0.0.1:9751/callback" // never dialled: redirects are not followed
	admVerifier = "admin-cli-code-verifier-0123456789-abcdefghijklmnop"
)

// user add -> the user can sign in at once (the login page through Caddy,
// no reload); revoke --user refuses the user's access and refresh tokens;
// user disable refuses the sign-in.
func TestAdminCLIUserSignsIn(t *testing.T) {
	useInProcessCaddy(t)
	dir := t.TempDir()
	cfg := strings.Replace(admCaddyfile(filepath.Join(dir, "a.db"), filepath.Join(dir, "audit.log")),
		"\t\tkey_rotation 40s\n", `		key_rotation 40s
		client web {
			secret web-secret
			redirect_uri `+admCallback+`
			grant_types authorization_code refresh_token
			scopes openid orders:read
			skip_consent
		}
`, 1)
	cfg = strings.Replace(cfg, "\t\t\theader X-Client client_id\n", "\t\t\theader X-Client client_id\n\t\t\theader X-Sub sub\n", 1)
	cfg = strings.Replace(cfg, `respond "client={http.request.header.X-Client}"`, `respond "client={http.request.header.X-Client} sub={http.request.header.X-Sub}"`, 1)
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")

	if r := authgateCLI(t, "carol-password\n", "user", "add", "carol", "--address", admAddress); r.code != 0 {
		t.Fatalf("user add: %s", r)
	}
	code, status := admSignIn(t, "carol", "carol-password")
	if code == "" {
		t.Fatalf("the added user could not sign in: %d", status)
	}
	tr := issPost(t, http.DefaultClient, admToken, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {admCallback}, "code_verifier": {admVerifier}}, "web", "web-secret")
	if tr.status != 200 {
		t.Fatalf("code exchange: %d %s", tr.status, tr.raw)
	}
	at, rt := tr.body["access_token"].(string), tr.body["refresh_token"].(string)
	if g := admGateway(t, http.DefaultClient, at); g.status != 200 || g.raw != "client=web sub=carol" {
		t.Fatalf("carol's token at the gateway: %d %q", g.status, g.raw)
	}
	if _, status := admSignIn(t, "carol", "wrong-password"); status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", status)
	}

	// revoke --user: the access token and the refresh family die.
	mustCLI(t, "revoke", "--user", "carol")
	refusedWithin(t, http.DefaultClient, at, time.Second, "revoke --user")
	if r := issPost(t, http.DefaultClient, admToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", "web-secret"); r.status != 400 || r.body["error"] != "invalid_grant" {
		t.Fatalf("refresh after revoke --user: %d %s", r.status, r.raw)
	}

	// passwd, then disable: the sign-in follows at once.
	if r := authgateCLI(t, "carol-new-password\n", "user", "passwd", "carol", "--address", admAddress); r.code != 0 {
		t.Fatalf("user passwd: %s", r)
	}
	if _, status := admSignIn(t, "carol", "carol-password"); status != http.StatusUnauthorized {
		t.Fatalf("old password after passwd: %d", status)
	}
	mustCLI(t, "user", "disable", "carol")
	if _, status := admSignIn(t, "carol", "carol-new-password"); status != http.StatusUnauthorized {
		t.Fatalf("disabled user signed in: %d", status)
	}
	mustCLI(t, "user", "enable", "carol")
	if code, status := admSignIn(t, "carol", "carol-new-password"); code == "" {
		t.Fatalf("re-enabled user: %d", status)
	}
}

// admSignIn runs the authorization request and the login form through
// Caddy without a browser; it returns the code the issuer redirects with,
// or "" and the login form's status.
func admSignIn(t *testing.T, user, password string) (code string, status int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	sum := sha256.Sum256([]byte(admVerifier))
	q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {admCallback},
		"scope": {"openid orders:read"}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	page := issDo(t, c, mustReq(t, http.MethodGet, admBase+"/oauth/authorize?"+q.Encode()))
	if page.status != 200 {
		t.Fatalf("login page: %d %s", page.status, page.raw)
	}
	f := url.Values{"csrf": {siHidden(page.raw, "csrf")}, "request": {siHidden(page.raw, "request")},
		"username": {user}, "password": {password}}
	req := mustReq(t, http.MethodPost, admBase+"/oauth/login")
	req.Body = io.NopCloser(strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := issDo(t, c, req)
	loc, err := url.Parse(r.header.Get("Location"))
	if r.status/100 != 3 || err != nil || !strings.HasPrefix(loc.String(), admCallback) {
		return "", r.status
	}
	return loc.Query().Get("code"), r.status
}
