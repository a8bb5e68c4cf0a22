package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// Values every JWKS test token carries, and the gateway accepts.
const (
	jwIssuer   = "https://idp.jwks.test"
	jwAudience = "api://orders"
)

// jwKey is a P-256 signing key as an identity provider would hold it.
type jwKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

func jwNewKey(t testing.TB, kid string) *jwKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &jwKey{kid: kid, priv: priv}
}

// jwJWKS renders the public halves of keys as a JWKS document, through jwx
// (kid, alg ES256, use sig), the way a provider publishes them.
func jwJWKS(t testing.TB, keys ...*jwKey) []byte {
	t.Helper()
	jwks := make([]json.RawMessage, 0, len(keys))
	for _, k := range keys {
		jwks = append(jwks, testutil.PublicJWK(t, &k.priv.PublicKey, k.kid, "ES256", "sig"))
	}
	return testutil.JWKS(jwks...)
}

// jwSign signs claims with key as ES256, with kid in the header (which may
// differ from key.kid, to forge unknown kids). It must not call t.Fatal: it
// runs on traffic goroutines.
func jwSign(key *jwKey, kid string, claims map[string]any) (string, error) {
	return testutil.SignJWT(key.priv, map[string]string{"alg": "ES256", "kid": kid, "typ": "JWT"}, claims)
}

// jwClaims are valid claims for subject sub from issuer iss.
func jwClaims(iss, sub string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": iss,
		"sub": sub,
		"aud": jwAudience,
		"iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
		"jti": jwRandHex(8),
	}
}

// jwToken is a valid token from jwIssuer for sub, signed by key.
func jwToken(t testing.TB, key *jwKey, sub string) string {
	t.Helper()
	tok, err := jwSign(key, key.kid, jwClaims(jwIssuer, sub))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func jwRandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// jwProvider is an identity provider's JWKS endpoint (and, optionally, its
// OpenID discovery document) on a real listener: a testutil.KeySetServer
// serving ES256 keys at /jwks with Cache-Control max-age set.
type jwProvider struct {
	*testutil.KeySetServer
	t testing.TB
}

const jwDiscoveryPath = "/.well-known/openid-configuration"

func jwNewProvider(t testing.TB, maxAge int, keys ...*jwKey) *jwProvider {
	t.Helper()
	p := &jwProvider{KeySetServer: testutil.NewKeySetServer(t, "/jwks"), t: t}
	p.SetCacheControl("public, max-age=" + strconv.Itoa(maxAge))
	p.publish(keys...)
	return p
}

// publish replaces the served key set and returns the fetch count at that
// instant: every fetch counted after it serves the new set.
func (p *jwProvider) publish(keys ...*jwKey) int {
	kids := make([]string, 0, len(keys))
	for _, k := range keys {
		kids = append(kids, k.kid)
	}
	return p.Publish(kids, jwJWKS(p.t, keys...))
}

// serveDiscovery publishes an OpenID configuration whose issuer is the
// provider's own URL.
func (p *jwProvider) serveDiscovery() {
	doc, err := json.Marshal(map[string]any{
		"issuer":                                p.URL,
		"jwks_uri":                              p.JWKSURL(),
		"id_token_signing_alg_values_supported": []string{"ES256"},
	})
	if err != nil {
		p.t.Fatal(err)
	}
	p.ServeDocument(jwDiscoveryPath, doc)
}

// MetadataHits counts requests for the discovery document.
func (p *jwProvider) MetadataHits() int { return p.DocumentHits(jwDiscoveryPath) }

// waitHits waits until the provider counted at least n JWKS fetches.
func (p *jwProvider) waitHits(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	jwEventually(t, timeout, func() bool { return p.Hits() >= n },
		func() string { return fmt.Sprintf("JWKS fetches: want >= %d, have %d", n, p.Hits()) })
}

func jwEventually(t testing.TB, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jwClosedURL is an http URL on a loopback port nobody listens on.
func jwClosedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/jwks"
}

// jwCaddyfile is a one-site config on 127.0.0.1:port: the authgate handler
// with the given block body, then `respond`.
func jwCaddyfile(port int, authgate, respond string) string {
	return fmt.Sprintf(`{
	skip_install_trust
	admin localhost:2999
	http_port %[1]d
	auto_https off
}
http://127.0.0.1:%[1]d {
	authgate {
%[2]s
		header X-User sub
	}
	respond "%[3]s {http.request.header.X-User}" 200
}
`, port, authgate, respond)
}

// jwJWKSBlock is the authgate block body for one JWKS URL with options.
func jwJWKSBlock(url, opts string) string {
	return fmt.Sprintf(`		issuer %s
		audience %s
		jwks %s {
%s
		}`, jwIssuer, jwAudience, url, opts)
}

// jwStart loads cfg into the in-process Caddy (admin localhost:2999) and
// watches, for the rest of the test, that nobody else replaces it: another
// test binary that finds an admin endpoint on 2999 loads its own configs into
// this process, which stops our sites and closes the shared JWKS cache. Such
// a test result says nothing about authgate, so the guard names the cause.
func jwStart(t *testing.T, cfg string) *caddytest.Tester {
	t.Helper()
	var want any
	if err := json.Unmarshal(adaptCaddyfile(t, cfg), &want); err != nil {
		t.Fatal(err)
	}
	g := jwGuardFor(t)
	g.loading()
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	g.only(want)
	return tester
}

// jwGuard polls the admin API's /config/ and records any config that is not
// one this test loaded.
type jwGuard struct {
	mu       sync.Mutex
	accepted []any // nil while a load is in progress: anything goes
	gen      int   // bumped by every loading/only, so a poll that overlaps one is ignored
	foreign  []string
}

var (
	jwGuardsMu sync.Mutex
	jwGuards   = map[testing.TB]*jwGuard{}
)

func jwGuardFor(t *testing.T) *jwGuard {
	jwGuardsMu.Lock()
	defer jwGuardsMu.Unlock()
	if g := jwGuards[t]; g != nil {
		return g
	}
	g := &jwGuard{}
	jwGuards[t] = g
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		c := &http.Client{Timeout: 2 * time.Second}
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			g.check(c)
		}
	}()
	t.Cleanup(func() {
		close(done)
		<-stopped
		jwGuardsMu.Lock()
		delete(jwGuards, t)
		jwGuardsMu.Unlock()
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.foreign) > 0 {
			t.Errorf("INTERFERENCE: another process replaced this test's Caddy config through the admin API at localhost:2999 "+
				"(it does not hold /tmp/integration.lock); this result is void. Foreign configs seen: %s", strings.Join(g.foreign, "; "))
		}
	})
	return g
}

// loading marks the start of a load: the guard accepts any config until only.
func (g *jwGuard) loading() {
	g.mu.Lock()
	g.accepted = nil
	g.gen++
	g.mu.Unlock()
}

func (g *jwGuard) only(cfg any) {
	g.mu.Lock()
	g.accepted = []any{cfg}
	g.gen++
	g.mu.Unlock()
}

func (g *jwGuard) check(c *http.Client) {
	g.mu.Lock()
	gen := g.gen
	g.mu.Unlock()
	res, err := c.Get("http://localhost:2999/config/")
	if err != nil {
		g.record(gen, "admin endpoint unreachable: "+err.Error())
		return
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return
	}
	var have any
	if json.Unmarshal(raw, &have) != nil {
		g.record(gen, fmt.Sprintf("unparsable config %.80q", raw))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.accepted == nil || g.gen != gen {
		return
	}
	for _, a := range g.accepted {
		if reflect.DeepEqual(a, have) {
			return
		}
	}
	g.foreign = append(g.foreign, fmt.Sprintf("%s %.200s", time.Now().Format("15:04:05.000"), raw))
}

func (g *jwGuard) record(gen int, s string) {
	g.mu.Lock()
	if g.accepted != nil && g.gen == gen {
		g.foreign = append(g.foreign, time.Now().Format("15:04:05.000")+" "+s)
	}
	g.mu.Unlock()
}

// jwClient is a keep-alive client for traffic (caddytest's client logs
// every dial).
func jwClient() *http.Client {
	return &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second},
	}
}

type jwResp struct {
	status int
	header http.Header
	body   string
}

// jwGet sends GET url with the bearer token (none if tok is ""). Safe on
// traffic goroutines: it returns errors instead of failing t.
func jwGet(c *http.Client, url, tok string) (jwResp, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return jwResp{}, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := c.Do(req)
	if err != nil {
		return jwResp{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return jwResp{}, err
	}
	return jwResp{status: res.StatusCode, header: res.Header, body: string(body)}, nil
}

func jwMustGet(t testing.TB, c *http.Client, url, tok string) jwResp {
	t.Helper()
	r, err := jwGet(c, url, tok)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// jwWantOK checks a 200 whose body proves the identity header reached the
// upstream.
func jwWantOK(t testing.TB, r jwResp, prefix, sub string) {
	t.Helper()
	if want := prefix + " " + sub; r.status != http.StatusOK || r.body != want {
		t.Fatalf("want 200 %q, got %d %q (WWW-Authenticate %q)", want, r.status, r.body, r.header.Get("WWW-Authenticate"))
	}
}

// jwWantInvalidToken checks a 401 with the RFC 6750 invalid_token challenge.
func jwWantInvalidToken(t testing.TB, r jwResp, what string) {
	t.Helper()
	if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("%s: want 401 with error=\"invalid_token\", got %d %q (WWW-Authenticate %q)",
			what, r.status, r.body, r.header.Get("WWW-Authenticate"))
	}
}

// jwWant503 checks a fail-closed answer with a usable Retry-After.
func jwWant503(t testing.TB, r jwResp, what string) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("%s: want 503, got %d %q (WWW-Authenticate %q)", what, r.status, r.body, r.header.Get("WWW-Authenticate"))
	}
	ra := r.header.Get("Retry-After")
	if n, err := strconv.Atoi(ra); err != nil || n < 1 {
		t.Fatalf("%s: want Retry-After in whole seconds >= 1, got %q", what, ra)
	}
}
