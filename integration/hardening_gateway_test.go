package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// hgCaddyfile is an issuer (keys and tokens in db; left out when withIssuer
// is false; extra goes into its block) and a gateway trusting it on /api/*,
// on 127.0.0.1:9201.
func hgCaddyfile(db string, withIssuer bool, extra ...string) string {
	return hgCaddyfileOn(9201, db, withIssuer, extra...)
}

// hgCaddyfileOn is hgCaddyfile on 127.0.0.1:port (issuer URL included), for
// a test on a child Caddy, which must not share 9201 with the in-process ones.
func hgCaddyfileOn(port int, db string, withIssuer bool, extra ...string) string {
	base := issBaseOn(port)
	issuer := ""
	if withIssuer {
		issuer = fmt.Sprintf(`authgate_issuer {
		issuer %s
		%s
%s
	}`, base, strings.Join(extra, "\n\t\t"), issGatewayClients)
	}
	return boltGlobals(port, db, trustLoopbackProxy) + fmt.Sprintf(`%s {
	%s
	route /api/* {
		authgate {
			issuer %s
			scope read
			header X-Sub sub
		}
		respond "sub={http.request.header.X-Sub}"
	}
	respond "public"
}
`, base, issuer, base)
}

func hgAPI(t *testing.T, c *http.Client, tok string, hdr ...string) issResp {
	t.Helper()
	return hgAPIAt(t, c, issBase, tok, hdr...)
}

// hgAPIAt is hgAPI at the gateway at base.
func hgAPIAt(t *testing.T, c *http.Client, base, tok string, hdr ...string) issResp {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/orders", nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return issDo(t, c, req)
}

// #4: a reload that removes the in-process issuer leaves no cached token
// passing: a cached token gets what an uncached one gets. The gateway now
// looks the issuer's keys up by discovery; the issuer signs with HMAC, whose
// keys are never published, so whatever discovery finds (during the reload
// the old server may still answer it) cannot verify them.
func TestGatewayCacheDiesWithRemovedIssuer(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "a.db")
	tester := caddytest.NewTester(t)
	tester.InitServer(hgCaddyfile(db, true, "signing_alg HS256"), "caddyfile")
	c := tester.Client
	cached := issToken(t, c, "app", "app-secret", nil)
	uncached := issToken(t, c, "app", "app-secret", nil)
	for i := 0; i < 2; i++ { // the second one is a cache hit
		if r := hgAPI(t, c, cached); r.status != 200 || r.raw != "sub=app" {
			t.Fatalf("before the reload: %d %q", r.status, r.raw)
		}
	}
	opq := issToken(t, c, "opq", "opq-secret", nil)
	if r := hgAPI(t, c, opq); r.status != 200 {
		t.Fatalf("opaque before the reload: %d %q", r.status, r.raw)
	}

	tester.InitServer(hgCaddyfile(db, false), "caddyfile")
	c.CloseIdleConnections() // the old server closes them: a POST on one fails with EOF
	want := hgAPI(t, c, uncached)
	if want.status == 200 {
		t.Fatalf("uncached token accepted without its issuer: %q", want.raw)
	}
	for name, tok := range map[string]string{"cached JWT": cached, "cached opaque": opq} {
		if r := hgAPI(t, c, tok); r.status == 200 || (name == "cached JWT" && r.status != hgAPI(t, c, uncached).status) {
			t.Fatalf("%s after the issuer was removed: %d %q (uncached: %d)", name, r.status, r.raw, want.status)
		}
	}
}

// #4: a reload that only moves `storage bolt` to another file makes a new
// issuer instance on a new store; a token revoked (or issued) under the old
// store, cached by the gateway, is refused.
func TestGatewayCacheDiesWithMovedStore(t *testing.T) {
	useInProcessCaddy(t)
	dir := t.TempDir()
	tester := caddytest.NewTester(t)
	tester.InitServer(hgCaddyfile(filepath.Join(dir, "a.db"), true), "caddyfile")
	c := tester.Client
	tok := issToken(t, c, "app", "app-secret", nil)
	opq := issToken(t, c, "opq", "opq-secret", nil)
	for _, x := range []string{tok, tok, opq, opq} {
		if r := hgAPI(t, c, x); r.status != 200 {
			t.Fatalf("before revocation: %d %q", r.status, r.raw)
		}
	}
	issPost(t, c, issRevokeURL, url.Values{"token": {tok}}, "app", "app-secret")
	if r := hgAPI(t, c, tok); r.status != 401 {
		t.Fatalf("revoked token: %d %q", r.status, r.raw)
	}

	tester.InitServer(hgCaddyfile(filepath.Join(dir, "b.db"), true), "caddyfile")
	c.CloseIdleConnections() // the old server closes them: a POST on one fails with EOF
	if r := hgAPI(t, c, issToken(t, c, "app", "app-secret", nil)); r.status != 200 {
		t.Fatalf("new store's token: %d %q", r.status, r.raw)
	}
	if r := hgAPI(t, c, tok); r.status != 401 {
		t.Fatalf("revoked cached token after the store moved: %d %q", r.status, r.raw)
	}
	if r := hgAPI(t, c, opq); r.status != 401 {
		t.Fatalf("old store's cached opaque token after the store moved: %d %q", r.status, r.raw)
	}
}

// #11: the challenge tells a caller nothing about why its token failed:
// one generic error_description for invalid_token, whatever the reason.
func TestGatewayChallengeIsGeneric(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "a.db")
	tester := caddytest.NewTester(t)
	tester.InitServer(hgCaddyfile(db, true), "caddyfile")
	c := tester.Client
	revoked := issToken(t, c, "app", "app-secret", nil)
	issPost(t, c, issRevokeURL, url.Values{"token": {revoked}}, "app", "app-secret")
	f := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", issTokenURL, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	req.SetBasicAuth("lan", "lan-secret")
	lan := issDo(t, c, req).body["access_token"].(string)
	good := issToken(t, c, "app", "app-secret", nil)
	forged := good[:len(good)-4] + "AAAA"

	const want = `Bearer realm="127.0.0.1", error="invalid_token", error_description="the access token is invalid"`
	for name, r := range map[string]issResp{
		"revoked":           hgAPI(t, c, revoked),
		"address refused":   hgAPI(t, c, lan, "X-Forwarded-For", "192.0.2.1"),
		"bad signature":     hgAPI(t, c, forged),
		"unknown opaque":    hgAPI(t, c, "notatoken"),
		"expired or absent": hgAPI(t, c, "a.b.c"),
	} {
		if r.status != 401 || r.header.Get("WWW-Authenticate") != want {
			t.Errorf("%s: %d %q", name, r.status, r.header.Get("WWW-Authenticate"))
		}
	}
}

// hgUpstream records each request's headers and trailers (read after the
// body, as net/http fills them in).
type hgUpstream struct {
	*httptest.Server
	mu       sync.Mutex
	headers  []http.Header
	trailers []http.Header
}

func hgNewUpstream(t *testing.T) *hgUpstream {
	u := &hgUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.headers = append(u.headers, r.Header.Clone())
		u.trailers = append(u.trailers, r.Trailer.Clone())
		u.mu.Unlock()
		io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *hgUpstream) last() (http.Header, http.Header, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.headers) == 0 {
		return nil, nil, 0
	}
	return u.headers[len(u.headers)-1], u.trailers[len(u.trailers)-1], len(u.headers)
}

// #7 and #9 through Caddy and a real upstream: malformed bearer values are
// refused in optional mode and never forwarded; another scheme passes
// anonymously; a claim the token lacks renders as an empty placeholder; and
// identity trailers never reach the upstream.
func TestGatewayCredentialsPlaceholdersTrailers(t *testing.T) {
	useInProcessCaddy(t)
	up := hgNewUpstream(t)
	s := gwNewSigner(t)
	cfg := fmt.Sprintf(`{
	skip_install_trust
	admin localhost:2999
	http_port 9202
}
http://127.0.0.1:9202 {
	authgate {
		key %s
		issuer https://idp.test
		audience orders-api
		optional
		header X-User sub
		header X-Tenant tenant
	}
	reverse_proxy %s {
		header_up X-Placeholder-Tenant "[{http.auth.user.tenant}]"
		header_up X-Placeholder-Nested "[{http.auth.user.realm_access.nope}]"
	}
}
`, s.pemPath, up.URL)
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	c := tester.Client
	site := "http://127.0.0.1:9202/x"
	tok := s.token(t, nil) // no "tenant" claim

	get := func(auth ...string) *http.Response {
		req, _ := http.NewRequest("GET", site, nil)
		req.Header["Authorization"] = auth
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	for name, auth := range map[string][]string{
		"tab":                 {"Bearer\tforged"},
		"comma":               {"Bearer,forged"},
		"bare":                {"Bearer"},
		"valid and malformed": {"Bearer " + tok, "Bearer\tforged"},
		"basic and bearer":    {"Basic YTpi", "Bearer " + tok},
	} {
		_, _, before := up.last()
		if res := get(auth...); res.StatusCode != 400 || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
			t.Errorf("%s: %d %q", name, res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
		if _, _, after := up.last(); after != before {
			t.Errorf("%s: forwarded to the upstream", name)
		}
	}
	if res := get("Basic YTpi"); res.StatusCode != 200 {
		t.Errorf("basic credentials in optional mode: %d", res.StatusCode)
	}
	if h, _, _ := up.last(); h.Get("Authorization") != "Basic YTpi" || h.Get("X-User") != "" {
		t.Errorf("basic credentials: upstream saw %v", h)
	}

	// Placeholders of absent claims are empty, not placeholder text.
	if res := get("Bearer " + tok); res.StatusCode != 200 {
		t.Fatalf("valid token: %d", res.StatusCode)
	}
	h, _, _ := up.last()
	if h.Get("X-User") != "alice" || h.Get("X-Placeholder-Tenant") != "[]" || h.Get("X-Placeholder-Nested") != "[]" {
		t.Errorf("upstream headers: X-User %q, tenant %q, nested %q", h.Get("X-User"), h.Get("X-Placeholder-Tenant"), h.Get("X-Placeholder-Nested"))
	}

	// Trailers named like identity headers are dropped, declared or sent.
	req, _ := http.NewRequest("POST", site, io.NopCloser(strings.NewReader("payload")))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Trailer = http.Header{"X-User": {"root"}, "X-Tenant": {"evil"}, "X-Checksum": {"abc"}}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("request with trailers: %d", res.StatusCode)
	}
	h, tr, _ := up.last()
	if v := tr.Values("X-User"); len(v) != 0 || len(tr.Values("X-Tenant")) != 0 || h.Get("X-User") != "alice" {
		t.Fatalf("identity trailers reached the upstream: trailers %v, X-User %q", tr, h.Get("X-User"))
	}
	if tr.Get("X-Checksum") != "abc" {
		t.Logf("other trailers: %v (not forwarded by this Caddy: the test proves nothing about trailers)", tr)
		t.Fatal("Caddy did not forward an unrelated trailer, so the identity trailer check is void")
	}
}

// #5 through Caddy: with max_stale 1s (its floor) and the provider failing,
// a cached token gets the same 503 as an uncached one once the set is
// stale.
func TestGatewayMaxStaleAppliesToCachedTokens(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2905)
	const port = 9306
	k1 := jwNewKey(t, "stale-1")
	idp := jwNewProvider(t, 1, k1)
	startChildCaddy(t, 2905, jwCaddyfile(port, jwJWKSBlock(idp.JWKSURL(), "\t\t\trefresh_min 1s\n\t\t\tmax_stale 1s"), "ok"))
	site := fmt.Sprintf("http://127.0.0.1:%d/", port)
	c := jwClient()
	cached := jwToken(t, k1, "cached")
	jwWantOK(t, jwMustGet(t, c, site, cached), "ok", "cached")
	jwWantOK(t, jwMustGet(t, c, site, cached), "ok", "cached")

	idp.SetStatus(http.StatusInternalServerError)
	var fresh jwResp
	jwEventually(t, 8*time.Second, func() bool {
		fresh = jwMustGet(t, c, site, jwToken(t, k1, "fresh"))
		return fresh.status == http.StatusServiceUnavailable
	}, func() string { return fmt.Sprintf("an uncached token still gets %d", fresh.status) })
	jwWant503(t, jwMustGet(t, c, site, cached), "cached token beyond max_stale")
}

// A config without the issuer starts discovery of its URL (external now);
// the next config has the issuer in-process again. The discovery source must
// die with the config that started it: kept alive, it goes on fetching our
// own issuer's metadata and JWKS, and a later config without the issuer
// verifies the issuer's tokens — revoked ones included — as an external
// issuer's, with keys that are still fresh (found by the attack review:
// 5068 of 59505 requests with a revoked token got 200 around such reloads).
func TestGatewayDiscoveryOfOwnIssuerDiesWithItsConfig(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2909), on 127.0.0.1:9213
	const port = 9213
	base := issBaseOn(port)
	db := filepath.Join(t.TempDir(), "a.db")
	c := caddytest.NewTester(t).Client
	child := startChildCaddy(t, 2909, hgCaddyfileOn(port, db, false)) // discovery of base starts and fails
	child.load(t, hgCaddyfileOn(port, db, true))
	tok := issTokenAt(t, c, base, "app", "app-secret", nil)
	if r := hgAPIAt(t, c, base, tok); r.status != 200 {
		t.Fatalf("with the issuer: %d %q", r.status, r.raw)
	}
	issPost(t, c, base+"/oauth/revoke", url.Values{"token": {tok}}, "app", "app-secret")
	if r := hgAPIAt(t, c, base, tok); r.status != 401 {
		t.Fatalf("revoked: %d %q", r.status, r.raw)
	}
	// Give a leftover discovery source its retry (1 s backoff, doubling):
	// with the issuer in-process, that fetch would succeed.
	time.Sleep(2500 * time.Millisecond)
	child.load(t, hgCaddyfileOn(port, db, false))
	for range 3 {
		if r := hgAPIAt(t, c, base, tok); r.status == 200 {
			t.Fatalf("revoked token accepted after the issuer was removed again: %q", r.raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
