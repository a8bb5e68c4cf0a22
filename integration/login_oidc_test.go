package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/chromedp/chromedp"

	"github.com/authgate/caddy-authgate/internal/testutil/browser"
	"github.com/authgate/caddy-authgate/internal/testutil/oidcprovider"
	"github.com/authgate/caddy-authgate/token"
)

// Ports of the sign-in tests (9600-9649).
const (
	lgCaddyPort    = 9600
	lgProviderPort = 9601
	lgUpstreamAddr = "127.0.0.1:9602"
	lgSite         = "http://localhost:9600"
	lgSecret       = "legacy-portal-secret-that-is-long-enough"
	// lgAccessTTL is the provider's access (and ID) token lifetime in
	// seconds: short, so the test sees sessions outlive several of them.
	// The gateway refreshes a quarter of it ahead of expiry: a refreshed
	// token (see lgPastExpiry) stays fresh for about 1.5 s.
	lgAccessTTL = 2
)

func lgStartProvider(t *testing.T) *oidcprovider.Provider {
	return oidcprovider.Start(t, oidcprovider.Options{
		Port: lgProviderPort,
		Clients: []map[string]any{{
			"client_id": "legacy-portal", "client_secret": lgSecret,
			"grant_types":               []string{"authorization_code", "refresh_token"},
			"response_types":            []string{"code"},
			"redirect_uris":             []string{lgSite + "/_authgate/callback"},
			"post_logout_redirect_uris": []string{lgSite + "/bye"},
			"scope":                     "openid profile email groups offline_access",
		}},
		Accounts: map[string]map[string]any{
			"alice":   {"email": "alice@example.com", "groups": []string{"staff", "dev"}},
			"mallory": {"email": "mallory@example.com", "groups": []string{"guests"}},
		},
		Config: map[string]any{"ttl": map[string]any{"AccessToken": lgAccessTTL, "IdToken": lgAccessTTL}},
	})
}

func lgCaddyfile(t *testing.T, provider string, signer *gwSigner) string {
	return fmt.Sprintf(`
{
	admin localhost:2999
	skip_install_trust
	auto_https off
	http_port %d
	authgate {
		storage bolt %s
	}
}
http://localhost:%d {
	handle /bye {
		respond "signed out" 200
	}
	handle {
		authgate {
			login %s {
				client_id legacy-portal
				client_secret %s
				scopes openid profile email groups offline_access
				auth_param prompt consent
				post_logout_redirect %s/bye
			}
			key %s
			claim groups staff
			header X-User sub
			header X-Email email
			pass_access_token
			identity_header X-Authgate-Assertion
		}
		reverse_proxy %s {
			header_up X-Auth-Id {http.auth.user.id}
			header_up X-Auth-Groups {http.auth.user.groups}
		}
	}
}`, lgCaddyPort, filepath.Join(t.TempDir(), "authgate.db"), lgCaddyPort, provider, lgSecret, lgSite, signer.pemPath, lgUpstreamAddr)
}

// TestLoginExternalProviderInChromium signs a real Chromium in through a
// real OpenID provider we did not write (panva's oidc-provider), at a real
// Caddy in front of a real upstream.
func TestLoginExternalProviderInChromium(t *testing.T) {
	t.Parallel()
	browser.Require(t)
	p := lgStartProvider(t)
	up := lgNewUpstream(t, lgUpstreamAddr)
	signer := gwNewSigner(t)
	// Started after the provider and the upstream, the browser stops
	// before them: its open connections would hold up their shutdown.
	browser.Start(t, browser.Options{})
	holdInProcessCaddy(t)
	tester := caddytest.NewTester(t)
	tester.InitServer(lgCaddyfile(t, p.Issuer(), signer), "caddyfile")
	shots := os.Getenv("AUTHGATE_SCREENSHOTS") // e.g. ../docs/screenshots

	ctx := browser.New(t, browser.Options{Timeout: 90 * time.Second})
	// A forged identity on every request the browser makes: the app must
	// never see it.
	lgSetExtraHeaders(t, ctx, map[string]string{"X-User": "root", "X-Email": "root@evil", "X-Authgate-Assertion": "forged"})

	t.Run("sign in and the app sees the identity, never a forged copy", func(t *testing.T) {
		lgDo(t, ctx, "open the app", chromedp.Navigate(lgSite+"/reports?year=2026"))
		if loc := lgLocation(t, ctx); !strings.HasPrefix(loc, p.Issuer()) {
			t.Fatalf("not sent to the provider: %s", loc)
		}
		lgProviderSignIn(t, ctx, "alice")
		lgWaitAt(t, ctx, lgSite+"/reports", "#user")
		if loc := lgLocation(t, ctx); loc != lgSite+"/reports?year=2026" {
			t.Fatalf("not returned to the original URL: %s", loc)
		}
		if u, e := lgText(t, ctx, "#user"), lgText(t, ctx, "#email"); u != "alice" || e != "alice@example.com" {
			t.Fatalf("app saw user %q email %q", u, e)
		}
		h := up.last(t)
		if got := h.Values("X-User"); len(got) != 1 || got[0] != "alice" {
			t.Fatalf("X-User upstream: %q", got)
		}
		if id, g := h.Get("X-Auth-Id"), h.Get("X-Auth-Groups"); id != "alice" || g != "staff,dev" {
			t.Fatalf("placeholders upstream: id %q groups %q", id, g)
		}
		if a := h.Get("Authorization"); !strings.HasPrefix(a, "Bearer ") || len(a) < 20 {
			t.Fatalf("pass_access_token: Authorization %q", a)
		}
		if c := h.Get("Cookie"); strings.Contains(c, "authgate_session") {
			t.Fatalf("the session cookie went upstream: %q", c)
		}
		lgCheckAssertion(t, h.Get("X-Authgate-Assertion"), "alice", "alice@example.com")
	})

	cookie := lgCookie(t, ctx, lgSite, "authgate_session")
	if len(cookie) != 43 {
		t.Fatalf("session cookie %q: want a 256-bit ticket", cookie)
	}

	t.Run("the session survives an access-token expiry by refreshing", func(t *testing.T) {
		before := p.Requests(t, "/token")
		lgPastExpiry(lgAccessTTL * time.Second)
		lgDo(t, ctx, "reload after expiry", chromedp.Navigate(lgSite+"/after-expiry"), chromedp.WaitVisible("#user"))
		if u := lgText(t, ctx, "#user"); u != "alice" {
			t.Fatalf("after expiry the app saw %q", u)
		}
		if got := p.Requests(t, "/token") - before; got != 1 {
			t.Fatalf("token endpoint calls during the reload: %d, want exactly 1 refresh", got)
		}
	})

	t.Run("20 concurrent requests at expiry: one refresh, all served", func(t *testing.T) {
		lgPastExpiry(lgAccessTTL * time.Second)
		before := p.Requests(t, "/token")
		var wg sync.WaitGroup
		codes := make([]int, 20)
		bodies := make([]string, 20)
		start := make(chan struct{})
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", lgSite+fmt.Sprintf("/api/%d", i), nil)
				req.Header.Set("Cookie", "authgate_session="+cookie)
				<-start
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				codes[i], bodies[i] = resp.StatusCode, string(b)
			}()
		}
		close(start)
		wg.Wait()
		for i, c := range codes {
			if c != 200 || !strings.Contains(bodies[i], `id="user">alice<`) {
				t.Fatalf("request %d: %d %s", i, c, bodies[i])
			}
		}
		if got := p.Requests(t, "/token") - before; got != 1 {
			t.Fatalf("refreshes at the provider: %d, want exactly 1", got)
		}
	})

	t.Run("bearer tokens keep working on the same route", func(t *testing.T) {
		// A JWT the route's key file verifies is a bearer token here.
		tok := signer.token(t, map[string]any{"sub": "svc-reports", "groups": []string{"staff"}})
		resp, body := gwDo(t, tester, "GET", lgSite+"/api/bearer", map[string][]string{"Authorization": {"Bearer " + tok}, "X-User": {"root"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="user">svc-reports<`) {
			t.Fatalf("bearer: %d %s", resp.StatusCode, body)
		}
		lgCheckAssertion(t, up.last(t).Get("X-Authgate-Assertion"), "svc-reports", "alice@example.com")
		resp, _ = gwDo(t, tester, "GET", lgSite+"/api/bearer", map[string][]string{"Accept": {"application/json"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("API call without credentials: %d, want 401 (no redirect)", resp.StatusCode)
		}
	})

	t.Run("logout ends the session", func(t *testing.T) {
		lgDo(t, ctx, "logout", chromedp.Navigate(lgSite+"/_authgate/logout"))
		// oidc-provider's end_session asks for confirmation.
		lgDo(t, ctx, "provider logout confirmation", chromedp.WaitVisible(`button[name=logout]`), chromedp.Click(`button[name=logout]`))
		lgDo(t, ctx, "post-logout page", chromedp.WaitVisible("body"))
		lgLoggedOut(t, ctx, lgSite, cookie)
		lgDo(t, ctx, "open the app again", chromedp.Navigate(lgSite+"/again"), chromedp.WaitVisible(`input[name=login]`))
	})

	t.Run("two tabs signing in at once both succeed", func(t *testing.T) {
		ctx2 := browser.New(t, browser.Options{Timeout: 60 * time.Second})
		tab2, cancel := chromedp.NewContext(ctx2)
		defer cancel()
		lgDo(t, ctx2, "tab 1", chromedp.Navigate(lgSite+"/tab-one"), chromedp.WaitVisible(`input[name=login]`))
		lgDo(t, tab2, "tab 2", chromedp.Navigate(lgSite+"/tab-two"), chromedp.WaitVisible(`input[name=login]`))
		lgProviderSignIn(t, ctx2, "alice")
		lgWaitAt(t, ctx2, lgSite+"/tab-one", "#user")
		lgProviderSignIn(t, tab2, "alice")
		lgWaitAt(t, tab2, lgSite+"/tab-two", "#user")
		for _, c := range []struct {
			ctx  context.Context
			path string
		}{{ctx2, "/tab-one"}, {tab2, "/tab-two"}} {
			if got := lgText(t, c.ctx, "#path"); got != c.path {
				t.Errorf("tab at %q, want %q", got, c.path)
			}
			if u := lgText(t, c.ctx, "#user"); u != "alice" {
				t.Errorf("tab %s user %q", c.path, u)
			}
		}
	})

	t.Run("a claim rule gives the 403 page", func(t *testing.T) {
		ctx3 := browser.New(t, browser.Options{Timeout: 60 * time.Second})
		lgDo(t, ctx3, "open the app", chromedp.Navigate(lgSite+"/staff-only"))
		lgProviderSignIn(t, ctx3, "mallory")
		lgWaitAt(t, ctx3, lgSite+"/staff-only", "p.status")
		if h := lgText(t, ctx3, "h1"); h != "Access denied" {
			t.Fatalf("page heading %q", h)
		}
		if shots != "" {
			browser.Screenshot(t, ctx3, filepath.Join(shots, "login-403.png"))
		}
		for _, h := range up.all() {
			if h.Get("X-User") == "mallory" {
				t.Fatal("the refused identity reached the app")
			}
		}
	})

	t.Run("provider errors and bad callbacks show the error page", func(t *testing.T) {
		ctx4 := browser.New(t, browser.Options{Timeout: 60 * time.Second})
		lgDo(t, ctx4, "open the app", chromedp.Navigate(lgSite+"/x"), chromedp.WaitVisible(`input[name=login]`))
		// devInteractions' "Cancel" aborts with access_denied.
		lgDo(t, ctx4, "cancel at the provider", chromedp.Click(`a[href$="/abort"]`))
		lgWaitAt(t, ctx4, lgSite+"/_authgate/callback", "p.status")
		if h := lgText(t, ctx4, "h1"); h != "Sign-in cancelled" {
			t.Fatalf("heading %q", h)
		}
		if shots != "" {
			browser.Screenshot(t, ctx4, filepath.Join(shots, "login-error.png"))
		}
		lgDo(t, ctx4, "forged callback", chromedp.Navigate(lgSite+"/_authgate/callback?state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&code=x"), chromedp.WaitVisible("p.status"))
		if h := lgText(t, ctx4, "h1"); h != "Sign-in expired" {
			t.Fatalf("heading %q", h)
		}
	})
}

// lgCheckAssertion verifies an identity_header JWT with the keys the
// gateway publishes.
func lgCheckAssertion(t *testing.T, jwt, sub, email string) {
	t.Helper()
	if jwt == "" || jwt == "forged" {
		t.Fatalf("identity assertion upstream: %q", jwt)
	}
	resp, err := http.Get(lgSite + "/.well-known/authgate/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	keys, _, err := token.ParseJWKS(body, "gateway")
	if err != nil || len(keys) != 1 {
		t.Fatalf("gateway JWKS: %v %s", err, body)
	}
	p := token.Policy{Issuers: []string{lgSite}, Audiences: []string{"localhost:9600"}}
	c, err := token.VerifySignature(context.Background(), jwt, &p, func(string) (token.KeyResolver, error) { return token.NewKeySet(keys...), nil })
	if err != nil {
		t.Fatalf("assertion does not verify: %v", err)
	}
	if te := p.Check(c, time.Now()); te != nil || c.Subject != sub {
		t.Fatalf("assertion: %v sub %q", te, c.Subject)
	}
	if e, _ := c.Claim("email"); e != email {
		t.Fatalf("assertion email %v", e)
	}
}
