package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/token"
)

const opaqueTok = "opaque-token-0123456789abcdefghijklmnop"

// introspectionServer is an RFC 7662 endpoint whose answer the test sets;
// it counts the calls and checks the gateway's credentials.
type introspectionServer struct {
	*httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	answer  func(w http.ResponseWriter, tok string)
	entered chan struct{} // receives once per call, if not full
}

func newIntrospectionServer(t testing.TB) *introspectionServer {
	s := &introspectionServer{entered: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		id, secret, ok := r.BasicAuth()
		if !ok || id != "gate%3Away" || secret != "s3cret%2B%2F" || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		select {
		case s.entered <- struct{}{}:
		default:
		}
		s.mu.Lock()
		answer := s.answer
		s.mu.Unlock()
		answer(w, r.PostFormValue("token"))
	}))
	t.Cleanup(s.Close)
	s.respond(activeAnswer(nil))
	return s
}

func (s *introspectionServer) respond(f func(w http.ResponseWriter, tok string)) {
	s.mu.Lock()
	s.answer = f
	s.mu.Unlock()
}

// activeAnswer answers active for opaqueTok (and inactive for any other).
func activeAnswer(extra map[string]any) func(http.ResponseWriter, string) {
	return func(w http.ResponseWriter, tok string) {
		body := map[string]any{"active": false}
		if tok == opaqueTok {
			body = baseClaims(extra)
			body["active"] = true
			body["token_type"] = "Bearer"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}
}

func rawAnswer(status int, ct, body string) func(http.ResponseWriter, string) {
	return func(w http.ResponseWriter, _ string) {
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func newIntrospector(t testing.TB, endpoint string, clock *testutil.Clock, mutate func(*IntrospectConfig)) *Introspector {
	t.Helper()
	cfg := IntrospectConfig{
		Endpoint: endpoint, ClientID: "gate:way", ClientSecret: "s3cret+/",
		CacheTTL: DefaultIntrospectCacheTTL, NegativeTTL: DefaultIntrospectNegativeTTL,
		CacheSize: 100, Now: clock.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	in, err := NewIntrospector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// introspectGateway trusts only the introspector (and no JWT key source),
// with the usual policy, a scope rule, a claim rule and header mapping.
func introspectGateway(t testing.TB, in *Introspector, clock *testutil.Clock, mutate func(*Config)) *Gateway {
	t.Helper()
	cfg := Config{
		Policy:     token.Policy{Issuers: []string{"https://idp.example"}, Audiences: []string{"api"}, Leeway: 30 * time.Second},
		Introspect: in,
		Rules:      Rules{Scopes: []string{"orders:read"}, Claims: []ClaimRule{{Path: "realm_access.roles", Values: []string{"admin"}}}},
		Headers:    []HeaderMapping{{Name: "X-User", Claim: "sub"}, {Name: "X-Email", Claim: "email"}},
		Cache:      NewCache(100),
		Now:        clock.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestIntrospectActiveCachedByHash(t *testing.T) {
	srv := newIntrospectionServer(t)
	clock := testutil.NewClock(gwNow)
	in := newIntrospector(t, srv.URL, clock, nil)
	g := introspectGateway(t, in, clock, nil)

	for i := range 3 {
		r := request(opaqueTok)
		r.Header.Set("X-User", "forged")
		d, e := g.Authorize(r, loopback)
		if e != nil {
			t.Fatalf("request %d refused: %v", i, e)
		}
		if got := r.Header.Get("X-User"); got != "alice" || r.Header.Get("X-Email") != "alice@example.com" {
			t.Fatalf("X-User = %q", got)
		}
		if d.Cached != (i > 0) || d.Claims.Subject != "alice" {
			t.Fatalf("request %d: cached=%v", i, d.Cached)
		}
	}
	if n := srv.calls.Load(); n != 1 {
		t.Fatalf("endpoint calls = %d, want 1", n)
	}
	// The verdict is cached under the token's SHA-256, nowhere under the token.
	if g.cfg.Cache.Len() != 0 {
		t.Fatal("an introspected token reached the verified-token cache (which keeps token bytes)")
	}
	sum := sha256.Sum256([]byte(opaqueTok))
	var keys []string
	for _, e := range in.cache.ring {
		if e != nil {
			keys = append(keys, e.key)
		}
	}
	if len(keys) != 1 || keys[0] != string(sum[:]) || strings.Contains(keys[0], opaqueTok) {
		t.Fatalf("introspection cache keys = %q, want only the token's SHA-256", keys)
	}
}

// Scopes, aud, iss, exp, claim rules apply to introspected claims as to JWTs.
func TestIntrospectPolicyAndRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extra  map[string]any
		status int
		reason string
	}{
		{"wrong audience", map[string]any{"aud": "other"}, 401, "audience"},
		{"wrong issuer", map[string]any{"iss": "https://evil.example"}, 401, "issuer"},
		{"no issuer", map[string]any{"iss": nil}, 401, "issuer"},
		{"expired", map[string]any{"exp": gwNow.Unix() - 60}, 401, "expired"},
		{"missing scope", map[string]any{"scope": "orders:write"}, 403, "insufficient_scope"},
		{"claim rule", map[string]any{"realm_access": map[string]any{"roles": []string{"dev"}}}, 403, "claim"},
		{"no exp", map[string]any{"exp": nil}, 401, "claims"},
		{"refresh token", map[string]any{"token_type": "refresh_token"}, 401, "token_type"},
		{"sender constrained", map[string]any{"cnf": map[string]any{"jkt": "abc"}}, 401, "token_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newIntrospectionServer(t)
			srv.respond(func(w http.ResponseWriter, tok string) {
				body := baseClaims(tc.extra)
				body["active"] = true
				if tt, ok := tc.extra["token_type"]; ok {
					body["token_type"] = tt
				}
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				_ = json.NewEncoder(w).Encode(body)
			})
			clock := testutil.NewClock(gwNow)
			g := introspectGateway(t, newIntrospector(t, srv.URL, clock, nil), clock, nil)
			_, e := g.Authorize(request(opaqueTok), loopback)
			if e == nil || e.Status != tc.status || !strings.Contains(e.Reason, tc.reason) {
				t.Fatalf("got %+v, want %d %s", e, tc.status, tc.reason)
			}
		})
	}
}

func TestIntrospectInactiveNegativeCache(t *testing.T) {
	srv := newIntrospectionServer(t)
	clock := testutil.NewClock(gwNow)
	in := newIntrospector(t, srv.URL, clock, nil)
	g := introspectGateway(t, in, clock, nil)
	for range 3 {
		_, e := g.Authorize(request("revoked-token"), loopback)
		if e == nil || e.Status != http.StatusUnauthorized || e.Reason != string(token.ReasonInactive) || e.Code != "invalid_token" {
			t.Fatalf("got %+v, want 401 inactive", e)
		}
	}
	if n := srv.calls.Load(); n != 1 {
		t.Fatalf("calls = %d, want 1 (negative cache)", n)
	}
	clock.Advance(DefaultIntrospectNegativeTTL)
	if _, e := g.Authorize(request("revoked-token"), loopback); e == nil {
		t.Fatal("accepted")
	}
	if n := srv.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2 once negative_cache_ttl passed", n)
	}

	// negative_cache_ttl 0: every request asks.
	in0 := newIntrospector(t, srv.URL, clock, func(c *IntrospectConfig) { c.NegativeTTL = 0 })
	g0 := introspectGateway(t, in0, clock, nil)
	for range 2 {
		g0.Authorize(request("revoked-token"), loopback)
	}
	if n := srv.calls.Load(); n != 4 {
		t.Fatalf("calls = %d, want 4", n)
	}
}

func TestIntrospectCacheTTLNeverBeyondExp(t *testing.T) {
	srv := newIntrospectionServer(t)
	clock := testutil.NewClock(gwNow)
	g := introspectGateway(t, newIntrospector(t, srv.URL, clock, nil), clock, nil)
	ask := func(wantCalls int64) {
		t.Helper()
		if _, e := g.Authorize(request(opaqueTok), loopback); e != nil {
			t.Fatal(e)
		}
		if n := srv.calls.Load(); n != wantCalls {
			t.Fatalf("calls = %d, want %d", n, wantCalls)
		}
	}
	// exp an hour away: cache_ttl (30s) bounds the verdict.
	ask(1)
	clock.Advance(DefaultIntrospectCacheTTL - time.Second)
	ask(1)
	clock.Advance(time.Second)
	ask(2)

	// exp 10s away: the verdict dies at exp, before cache_ttl.
	clock.Advance(DefaultIntrospectCacheTTL)
	srv.respond(activeAnswer(map[string]any{"exp": clock.Now().Unix() + 10}))
	ask(3)
	clock.Advance(9 * time.Second)
	ask(3)
	clock.Advance(time.Second) // at exp; within leeway, so it asks again and is accepted
	ask(4)
}

func TestIntrospectEndpointFailuresFailClosed(t *testing.T) {
	big := `{"active":true,"exp":2000000000,"x":"` + strings.Repeat("a", token.MaxIntrospectionBytes) + `"}`
	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter, string)
	}{
		{"500", rawAnswer(500, "application/json", `{"active":true,"exp":2000000000}`)},
		{"401 bad credentials", rawAnswer(401, "application/json", `{"error":"invalid_client"}`)},
		{"redirect", func(w http.ResponseWriter, _ string) { w.Header().Set("Location", "/elsewhere"); w.WriteHeader(302) }},
		{"html", rawAnswer(200, "text/html", `{"active":true,"exp":2000000000}`)},
		{"no content type", rawAnswer(200, "", `{"active":true,"exp":2000000000}`)},
		{"oversized", rawAnswer(200, "application/json", big)},
		{"malformed", rawAnswer(200, "application/json", `{"active":true,`)},
		{"duplicate active", rawAnswer(200, "application/json", `{"active":false,"active":true,"exp":2000000000}`)},
		{"active as string", rawAnswer(200, "application/json", `{"active":"true","exp":2000000000}`)},
		{"array", rawAnswer(200, "application/json", `[{"active":true,"exp":2000000000}]`)},
		{"empty", rawAnswer(200, "application/json", ``)},
		{"invalid utf-8", rawAnswer(200, "application/json", "{\"active\":true,\"exp\":2000000000,\"sub\":\"\xff\"}")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newIntrospectionServer(t)
			srv.respond(tc.answer)
			clock := testutil.NewClock(gwNow)
			g := introspectGateway(t, newIntrospector(t, srv.URL, clock, nil), clock, nil)
			for range 2 {
				_, e := g.Authorize(request(opaqueTok), loopback)
				if e == nil || e.Status != http.StatusServiceUnavailable || e.RetryAfter != IntrospectRetryAfter {
					t.Fatalf("got %+v, want 503 with Retry-After", e)
				}
			}
			if n := srv.calls.Load(); n != 2 {
				t.Fatalf("calls = %d, want 2 (a failure is never cached)", n)
			}
		})
	}

	t.Run("down", func(t *testing.T) {
		srv := newIntrospectionServer(t)
		srv.Close()
		clock := testutil.NewClock(gwNow)
		g := introspectGateway(t, newIntrospector(t, srv.URL, clock, nil), clock, nil)
		_, e := g.Authorize(request(opaqueTok), loopback)
		if e == nil || e.Status != http.StatusServiceUnavailable || e.RetryAfter != IntrospectRetryAfter {
			t.Fatalf("got %+v, want 503", e)
		}
		h := http.Header{}
		e.SetHeaders(h, "app")
		if h.Get("Retry-After") != fmt.Sprint(IntrospectRetryAfter) {
			t.Fatalf("headers = %v", h)
		}
	})

	t.Run("slow", func(t *testing.T) {
		srv := newIntrospectionServer(t)
		release := make(chan struct{})
		srv.respond(func(w http.ResponseWriter, _ string) { <-release })
		t.Cleanup(func() { close(release) })
		clock := testutil.NewClock(gwNow)
		in := newIntrospector(t, srv.URL, clock, func(c *IntrospectConfig) { c.Timeout = 20 * time.Millisecond })
		g := introspectGateway(t, in, clock, nil)
		_, e := g.Authorize(request(opaqueTok), loopback)
		if e == nil || e.Status != http.StatusServiceUnavailable {
			t.Fatalf("got %+v, want 503", e)
		}
	})
}

// 1000 concurrent requests of one token: one call at the endpoint.
func TestIntrospectSingleFlight(t *testing.T) {
	for _, tok := range []string{opaqueTok, "inactive-token"} {
		t.Run(tok, func(t *testing.T) {
			srv := newIntrospectionServer(t)
			gate := make(chan struct{})
			answer := activeAnswer(nil)
			srv.respond(func(w http.ResponseWriter, tok string) { <-gate; answer(w, tok) })
			clock := testutil.NewClock(gwNow)
			g := introspectGateway(t, newIntrospector(t, srv.URL, clock, nil), clock, nil)

			const n = 1000
			var wg sync.WaitGroup
			var allowed, refused atomic.Int64
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, e := g.Authorize(request(tok), loopback); e == nil {
						allowed.Add(1)
					} else if e.Status == http.StatusUnauthorized {
						refused.Add(1)
					}
				}()
			}
			<-srv.entered // the one call is in flight; the others wait for it or hit the cache
			close(gate)
			wg.Wait()
			if c := srv.calls.Load(); c != 1 {
				t.Fatalf("endpoint calls = %d, want 1", c)
			}
			want := &allowed
			if tok != opaqueTok {
				want = &refused
			}
			if want.Load() != n {
				t.Fatalf("allowed %d, refused %d of %d", allowed.Load(), refused.Load(), n)
			}
		})
	}
}

// A waiter whose request ends gets 503; the call goes on for the others
// and its verdict is cached.
func TestIntrospectWaiterCanceled(t *testing.T) {
	srv := newIntrospectionServer(t)
	gate := make(chan struct{})
	answer := activeAnswer(nil)
	srv.respond(func(w http.ResponseWriter, tok string) { <-gate; answer(w, tok) })
	clock := testutil.NewClock(gwNow)
	in := newIntrospector(t, srv.URL, clock, nil)
	g := introspectGateway(t, in, clock, nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Error)
	go func() {
		_, e := g.Authorize(request(opaqueTok).WithContext(ctx), loopback)
		done <- e
	}()
	<-srv.entered
	cancel()
	if e := <-done; e == nil || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("canceled waiter got %+v, want 503", e)
	}
	close(gate)
	_, _, err := in.Introspect(context.Background(), opaqueTok) // joins the flight or hits its cached verdict
	if err != nil {
		t.Fatal(err)
	}
	if c := srv.calls.Load(); c != 1 {
		t.Fatalf("calls = %d, want 1", c)
	}
}

func TestIntrospectCacheBounded(t *testing.T) {
	srv := newIntrospectionServer(t)
	srv.respond(func(w http.ResponseWriter, tok string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"active":true,"exp":%d,"iss":"https://idp.example","aud":"api","scope":"orders:read","sub":%q,"realm_access":{"roles":["admin"]}}`, gwNow.Unix()+3600, tok)
	})
	clock := testutil.NewClock(gwNow)
	in := newIntrospector(t, srv.URL, clock, func(c *IntrospectConfig) { c.CacheSize = 4 })
	g := introspectGateway(t, in, clock, nil)
	for i := range 20 {
		if _, e := g.Authorize(request(fmt.Sprintf("token-%02d", i)), loopback); e != nil {
			t.Fatal(e)
		}
	}
	if n := in.cache.Len(); n != 4 {
		t.Fatalf("cached verdicts = %d, want the bound 4", n)
	}
}

// JWTs keep the local path: no introspection call for a token with dots.
func TestIntrospectJWTsStayLocal(t *testing.T) {
	srv := newIntrospectionServer(t)
	s, set := ecFixture(t)
	clock := testutil.NewClock(gwNow)
	g := introspectGateway(t, newIntrospector(t, srv.URL, clock, nil), clock, func(c *Config) { c.Keys = staticKeys(set) })
	if _, e := g.Authorize(request(s.sign(t, baseClaims(nil))), loopback); e != nil {
		t.Fatal(e)
	}
	if _, e := g.Authorize(request("forged.jwt.token"), loopback); e == nil || e.Status != 401 {
		t.Fatalf("forged JWT: %+v", e)
	}
	if n := srv.calls.Load(); n != 0 {
		t.Fatalf("calls = %d, want 0", n)
	}
	// Oversized and non-b64token opaque tokens never reach the endpoint.
	for _, tok := range []string{strings.Repeat("a", 20000), "bad token"} {
		if _, e := g.Authorize(request(tok), loopback); e == nil {
			t.Fatalf("%.10q accepted", tok)
		}
	}
	if n := srv.calls.Load(); n != 0 {
		t.Fatalf("calls = %d, want 0", n)
	}
}

func TestNewIntrospectorChecks(t *testing.T) {
	for _, cfg := range []IntrospectConfig{
		{Endpoint: "", ClientID: "x"},
		{Endpoint: "ftp://idp/introspect", ClientID: "x"},
		{Endpoint: "/introspect", ClientID: "x"},
		{Endpoint: "https://idp/introspect"},
		{Endpoint: "https://idp/introspect", ClientID: "x", CacheTTL: -1},
	} {
		if _, err := NewIntrospector(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// The introspection cache lookup (hash + lookup) allocates nothing, like a
// verified-token cache hit.
func TestIntrospectCacheHitAllocatesNothing(t *testing.T) {
	srv := newIntrospectionServer(t)
	clock := testutil.NewClock(gwNow)
	in := newIntrospector(t, srv.URL, clock, nil)
	g := introspectGateway(t, in, clock, nil)
	if _, e := g.Authorize(request(opaqueTok), loopback); e != nil {
		t.Fatal(e)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err, ok := g.remoteHit(opaqueTok, gwNow); !ok || err != nil {
			t.Fatal("miss")
		}
	})
	if allocs != 0 {
		t.Fatalf("a hit allocates %v times", allocs)
	}
}

// Distinct tokens beyond MaxInFlight are refused at once (503), without a
// call; the flights in progress still complete.
func TestIntrospectInFlightBound(t *testing.T) {
	srv := newIntrospectionServer(t)
	gate := make(chan struct{})
	answer := activeAnswer(nil)
	entered := make(chan struct{}, 2)
	srv.respond(func(w http.ResponseWriter, tok string) { entered <- struct{}{}; <-gate; answer(w, tok) })
	clock := testutil.NewClock(gwNow)
	in := newIntrospector(t, srv.URL, clock, func(c *IntrospectConfig) { c.MaxInFlight = 2 })
	g := introspectGateway(t, in, clock, nil)

	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); g.Authorize(request(fmt.Sprintf("pending-%d", i)), loopback) }()
	}
	<-entered // both calls reached the endpoint
	<-entered
	_, e := g.Authorize(request(opaqueTok), loopback)
	if e == nil || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("third distinct token: %+v, want 503", e)
	}
	close(gate)
	wg.Wait()
	if n := srv.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
	if _, e := g.Authorize(request(opaqueTok), loopback); e != nil {
		t.Fatalf("after the flights ended: %v", e)
	}
}

// With in-process issuers too: a token a local issuer knows is resolved
// in-process (no call); one it does not know goes to the endpoint.
func TestIntrospectAfterLocalIssuers(t *testing.T) {
	srv := newIntrospectionServer(t)
	_, set := ecFixture(t)
	local := &fakeLocal{set: set, opaque: map[string]*token.Claims{
		"local-opaque": {Issuer: "https://idp.example", Subject: "svc", Audience: []string{"api"}, Scopes: []string{"orders:read"}, ExpiresAt: gwNow.Unix() + 60},
	}}
	clock := testutil.NewClock(gwNow)
	g := introspectGateway(t, newIntrospector(t, srv.URL, clock, nil), clock, func(c *Config) {
		c.Local = locals{local}
		c.Rules.Claims = nil
	})
	r := request("local-opaque")
	if _, e := g.Authorize(r, loopback); e != nil || r.Header.Get("X-User") != "svc" {
		t.Fatalf("local opaque token: %v", e)
	}
	if n := srv.calls.Load(); n != 0 {
		t.Fatalf("calls = %d, want 0", n)
	}
	r = request(opaqueTok)
	if _, e := g.Authorize(r, loopback); e != nil || r.Header.Get("X-User") != "alice" {
		t.Fatalf("remote opaque token: %v", e)
	}
	if n := srv.calls.Load(); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
}

// The token reaches the endpoint byte for byte, b64token characters that
// form encoding changes ('+', '/', '=') included.
func TestIntrospectSendsTokenExactly(t *testing.T) {
	srv := newIntrospectionServer(t)
	const opaque = "A+b/C~d-E_f=="
	var got atomic.Value
	answer := activeAnswer(nil)
	srv.respond(func(w http.ResponseWriter, tk string) { got.Store(tk); answer(w, opaqueTok) })
	clock := testutil.NewClock(gwNow)
	g := introspectGateway(t, newIntrospector(t, srv.URL, clock, nil), clock, nil)
	if _, e := g.Authorize(request(opaque), loopback); e != nil {
		t.Fatal(e)
	}
	if got.Load() != opaque {
		t.Fatalf("endpoint got %q, want %q", got.Load(), opaque)
	}
}
