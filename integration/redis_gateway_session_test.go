package integration

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
)

// Ports of the gateway-session-on-Redis test: a TCP load balancer in the
// test on 9445 (the one public address: issuer URL and site), instance i
// on 9446+i, its admin endpoint on 9466+i; Redis on 6500-6549. This test
// runs beside the in-process ones: none of them uses these ports (the
// gateway tests have 9400-9421, config 9460-9462).
const (
	rgPublic = "http://127.0.0.1:9445"
	rgLBAddr = "127.0.0.1:9445"
	rgFirst  = 9446
)

func rgCaddyfile(port, admin int, redisAddr, aliceHash string) string {
	return redisGlobals(admin, redisAddr, "rg:") + fmt.Sprintf(`http://:%d {
	authgate_issuer {
		issuer %s
		user alice {
			password_hash %s
			claim email alice@example.com
		}
		client portal {
			secret portal-secret-long-enough
			redirect_uri %s/_authgate/callback
			post_logout_redirect_uri %s/bye
			grant_types authorization_code refresh_token
			scopes openid profile email
		}
	}
	handle /bye {
		respond "signed out" 200
	}
	handle {
		authgate {
			login %s {
				client_id portal
				client_secret portal-secret-long-enough
				post_logout_redirect %s/bye
			}
			header X-User sub
			header X-Email email
		}
		respond "user={http.request.header.X-User} email={http.request.header.X-Email}"
	}
}
`, port, rgPublic, aliceHash, rgPublic, rgPublic, rgPublic, rgPublic)
}

// rgBalancer is a TCP load balancer: each connection goes to the next
// backend in turn (the gateways' own calls to the issuer go through it,
// as they would in production).
func rgBalancer(t *testing.T, backends ...string) {
	t.Helper()
	l, err := net.Listen("tcp", rgLBAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	var next atomic.Uint64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.DialTimeout("tcp", backends[next.Add(1)%uint64(len(backends))], 2*time.Second)
				if err != nil {
					return
				}
				defer b.Close()
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { defer wg.Done(); _, _ = io.Copy(b, c); _ = b.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, b)
				_ = c.(*net.TCPConn).CloseWrite()
				wg.Wait()
			}()
		}
	}()
}

// rgBrowser is a browser stand-in: a cookie jar and a client whose
// requests to the public address reach the instance it is pinned to (a
// load balancer that picks that instance).
type rgBrowser struct {
	jar    *cookiejar.Jar
	client *http.Client
	target atomic.Pointer[instance]
}

func newRGBrowser(t *testing.T, at *instance) *rgBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &rgBrowser{jar: jar}
	b.target.Store(at)
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == rgLBAddr {
			addr = strings.TrimPrefix(b.target.Load().base, "http://")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	b.client = &http.Client{Jar: jar, Transport: rgNavigate{tr}, Timeout: 10 * time.Second}
	return b
}

// rgNavigate marks every request as a browser's page load (the gateway
// sends only those to sign in; anything else gets 401).
type rgNavigate struct{ next http.RoundTripper }

func (n rgNavigate) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "text/html")
	return n.next.RoundTrip(req)
}

// do sends req through the pinned instance, following redirects.
func (b *rgBrowser) do(t *testing.T, at *instance, req *http.Request) issResp {
	t.Helper()
	b.target.Store(at)
	return issDo(t, b.client, req)
}

func (b *rgBrowser) get(t *testing.T, at *instance, path string) issResp {
	t.Helper()
	return b.do(t, at, mustReq(t, http.MethodGet, rgPublic+path))
}

func (b *rgBrowser) postForm(t *testing.T, at *instance, action string, f url.Values) issResp {
	t.Helper()
	u, err := url.Parse(rgPublic)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := url.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, u.ResolveReference(ref).String(), strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, at, req)
}

func (b *rgBrowser) sessionCookie(t *testing.T) string {
	t.Helper()
	u, _ := url.Parse(rgPublic)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "authgate_session" {
			return c.Value
		}
	}
	t.Fatal("no authgate_session cookie in the jar")
	return ""
}

var rgAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// rgSignIn opens /app at start, signs alice in at the issuer's login and
// consent forms at login and lets the issuer's redirect reach the
// gateway's callback at callback; it returns the app's answer.
func rgSignIn(t *testing.T, b *rgBrowser, start, login, callback *instance) issResp {
	t.Helper()
	// Stop before the issuer: the attempt cookie is A's, the login page B's.
	b.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.Path, "/oauth/authorize") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	first := b.get(t, start, "/app?x=1")
	b.client.CheckRedirect = nil
	if first.status != http.StatusFound && first.status != http.StatusSeeOther {
		t.Fatalf("unauthenticated /app at %s: %d %s", start.name, first.status, first.raw)
	}
	page := b.do(t, login, mustReq(t, http.MethodGet, first.header.Get("Location")))
	csrf, request := siHidden(page.raw, "csrf"), siHidden(page.raw, "request")
	m := rgAction.FindStringSubmatch(page.raw)
	if page.status != 200 || csrf == "" || request == "" || m == nil {
		t.Fatalf("login page at %s: %d %s", login.name, page.status, page.raw)
	}
	// The issuer's redirect to the callback goes to callback.
	b.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/_authgate/callback" {
			b.target.Store(callback)
		}
		return nil
	}
	defer func() { b.client.CheckRedirect = nil }()
	consent := b.postForm(t, login, html.UnescapeString(m[1]), url.Values{"csrf": {csrf}, "request": {request},
		"username": {"alice"}, "password": {"alice-password"}})
	if !strings.Contains(consent.raw, `value="allow"`) {
		return consent // consent remembered from an earlier sign-in
	}
	m = rgAction.FindStringSubmatch(consent.raw)
	if consent.status != 200 || m == nil {
		t.Fatalf("consent page at %s: %d %s", login.name, consent.status, consent.raw)
	}
	return b.postForm(t, login, html.UnescapeString(m[1]), url.Values{"csrf": {siHidden(consent.raw, "csrf")},
		"request": {siHidden(consent.raw, "request")}, "decision": {"allow"}})
}

// rgApp calls /app with only the session cookie v (no jar, no redirects).
func rgApp(t *testing.T, at *instance, v string) (int, string) {
	t.Helper()
	req := mustReq(t, http.MethodGet, at.base+"/app")
	req.Host = strings.TrimPrefix(rgPublic, "http://")
	req.Header.Set("Cookie", "authgate_session="+v)
	req.Header.Set("Accept", "application/json")
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r := issDo(t, c, req)
	return r.status, r.raw
}

// TestRedisInstancesGatewaySession: two Caddy processes on one Redis, each
// with the same site behind a load balancer: an issuer and a gateway with
// `login` (server-side sessions in the store). alice signs in through A;
// her session cookie is served at B with the identity headers. A sign-in
// started at A (its attempt cookie sealed with the gateway secret) and
// finished at B's callback works: the secret is one, in Redis. Logout on B
// ends the session on A within 1 s.
func TestRedisInstancesGatewaySession(t *testing.T) {
	t.Parallel() // child Caddy processes only: beside the in-process tests
	a, b := launchAlicePair(t, redisserver.Options{FirstPort: 6500, LastPort: 6549}, rgFirst, rgCaddyfile)
	ins := [2]*instance{a, b}
	rgBalancer(t, strings.TrimPrefix(a.base, "http://"), strings.TrimPrefix(b.base, "http://"))
	const want = "user=alice email=alice@example.com"

	// Signed in entirely through A.
	br := newRGBrowser(t, a)
	if r := rgSignIn(t, br, a, a, a); r.status != 200 || r.raw != want {
		t.Fatalf("sign-in through A: %d %q", r.status, r.raw)
	}
	cookie := br.sessionCookie(t)
	// The same cookie on B: the session is in Redis.
	for _, in := range ins {
		if s, body := rgApp(t, in, cookie); s != 200 || body != want {
			t.Fatalf("A's session at %s: %d %q", in.name, s, body)
		}
	}
	// A forged ticket is refused at both.
	forged := []byte(cookie)
	forged[len(forged)/2] ^= 1
	for _, in := range ins {
		if s, _ := rgApp(t, in, string(forged)); s != http.StatusUnauthorized {
			t.Fatalf("a forged session cookie at %s: %d", in.name, s)
		}
	}

	// Started at A, signed in at B's issuer, A's attempt cookie opened at
	// B's callback: both instances hold the same gateway secret.
	br2 := newRGBrowser(t, a)
	if r := rgSignIn(t, br2, a, b, b); r.status != 200 || r.raw != want {
		t.Fatalf("sign-in started at A, callback at B: %d %q", r.status, r.raw)
	}
	cookie2 := br2.sessionCookie(t)
	if s, body := rgApp(t, a, cookie2); s != 200 || body != want {
		t.Fatalf("B's session at A: %d %q", s, body)
	}

	// Logout on B (a same-origin POST) ends the first session on A
	// within 1 s; the second one lives on.
	if s, _ := rgApp(t, a, cookie); s != 200 { // A holds it in memory now
		t.Fatalf("before logout at A: %d", s)
	}
	req, _ := http.NewRequest(http.MethodPost, rgPublic+"/_authgate/logout", nil)
	req.Header.Set("Origin", rgPublic)
	br.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if r := br.do(t, b, req); r.status != http.StatusSeeOther {
		t.Fatalf("logout at B: %d %s", r.status, r.raw)
	}
	if s, _ := rgApp(t, b, cookie); s != http.StatusUnauthorized {
		t.Fatalf("after logout at B, the cookie at B: %d", s)
	}
	took := waitFor(time.Second, func() bool { s, _ := rgApp(t, a, cookie); return s == http.StatusUnauthorized })
	if took < 0 {
		t.Fatal("logout at B: the session is still served at A after 1s")
	}
	t.Logf("logout at B: refused at A after %v", took.Round(time.Millisecond))
	for _, in := range ins {
		if s, body := rgApp(t, in, cookie2); s != 200 || body != want {
			t.Fatalf("the other session at %s after the logout: %d %q", in.name, s, body)
		}
	}
}
