package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

func TestAuthorizeOutcomes(t *testing.T) {
	s, set := ecFixture(t)
	valid := s.sign(t, baseClaims(nil))
	cases := []struct {
		name      string
		req       func() *http.Request
		mutate    func(*Config)
		status    int
		challenge string // exact WWW-Authenticate, "" for none
		reason    string
	}{
		{"no token", func() *http.Request { return request("") }, nil,
			401, `Bearer realm="app.example"`, ReasonNoToken},
		{"garbage token", func() *http.Request { return request("abc.def.ghi") }, nil,
			401, `Bearer realm="app.example", error="invalid_token", error_description="the access token is invalid"`, "malformed"},
		{"expired", func() *http.Request { return request(s.sign(t, baseClaims(map[string]any{"exp": gwNow.Unix() - 60}))) }, nil,
			401, `Bearer realm="app.example", error="invalid_token", error_description="the access token is invalid"`, "expired"},
		{"wrong issuer", func() *http.Request { return request(s.sign(t, baseClaims(map[string]any{"iss": "https://evil"}))) }, nil,
			401, `Bearer realm="app.example", error="invalid_token", error_description="the access token is invalid"`, "issuer"},
		{"wrong audience", func() *http.Request { return request(s.sign(t, baseClaims(map[string]any{"aud": []string{"x", "y"}}))) }, nil,
			401, `Bearer realm="app.example", error="invalid_token", error_description="the access token is invalid"`, "audience"},
		{"audience array containing ours", func() *http.Request {
			return request(s.sign(t, baseClaims(map[string]any{"aud": []string{"x", "api"}})))
		}, nil,
			200, "", ""},
		{"missing scope", func() *http.Request { return request(valid) }, func(c *Config) { c.Rules.Scopes = []string{"orders:read", "admin"} },
			403, `Bearer realm="app.example", error="insufficient_scope", error_description="the access token does not grant access to this resource", scope="orders:read admin"`, ReasonInsufficientScope},
		{"scope_any satisfied", func() *http.Request { return request(valid) }, func(c *Config) { c.Rules.ScopeAny = []string{"admin", "orders:write"} },
			200, "", ""},
		{"scope_any unsatisfied", func() *http.Request { return request(valid) }, func(c *Config) { c.Rules.ScopeAny = []string{"admin", "root"} },
			403, `Bearer realm="app.example", error="insufficient_scope", error_description="the access token does not grant access to this resource", scope="admin root"`, ReasonInsufficientScope},
		{"scp array", func() *http.Request {
			return request(s.sign(t, baseClaims(map[string]any{"scope": nil, "scp": []string{"admin"}})))
		}, func(c *Config) { c.Rules.Scopes = []string{"admin"} }, 200, "", ""},
		{"claim in nested array", func() *http.Request { return request(valid) }, func(c *Config) {
			c.Rules.Claims = []ClaimRule{{Path: "realm_access.roles", Values: []string{"ops", "admin"}}}
		}, 200, "", ""},
		{"claim mismatch", func() *http.Request { return request(valid) }, func(c *Config) {
			c.Rules.Claims = []ClaimRule{{Path: "realm_access.roles", Values: []string{"ops"}}}
		}, 403, `Bearer realm="app.example", error="insufficient_scope", error_description="the access token does not grant access to this resource"`, ReasonClaimMismatch},
		{"numeric claim", func() *http.Request { return request(valid) }, func(c *Config) {
			c.Rules.Claims = []ClaimRule{{Path: "n", Values: []string{"42"}}}
		}, 200, "", ""},
		{"two Authorization headers", func() *http.Request {
			r := request(valid)
			r.Header.Add("Authorization", "Bearer "+valid)
			return r
		}, nil, 400, `Bearer realm="app.example", error="invalid_request", error_description="the request's credentials are malformed or ambiguous"`, ReasonMultipleTokens},
		{"header and query", func() *http.Request {
			r := request(valid)
			r.URL.RawQuery = "access_token=" + valid
			return r
		}, func(c *Config) {
			c.Sources = []TokenSource{{Kind: "header", Name: "Authorization", Scheme: "Bearer"}, {Kind: "query", Name: "access_token"}}
		}, 400, `Bearer realm="app.example", error="invalid_request", error_description="the request's credentials are malformed or ambiguous"`, ReasonMultipleTokens},
		{"scheme is case-insensitive", func() *http.Request {
			r := request("")
			r.Header.Set("Authorization", "bEaReR "+valid)
			return r
		}, nil, 200, "", ""},
		{"basic credentials are not a bearer token", func() *http.Request {
			r := request("")
			r.Header.Set("Authorization", "Basic YTpi")
			return r
		}, nil, 401, `Bearer realm="app.example"`, ReasonNoToken},
		{"optional without token", func() *http.Request { return request("") }, func(c *Config) { c.Optional = true }, 200, "", ""},
		{"optional with bad token", func() *http.Request { return request("x+.y.z") }, func(c *Config) { c.Optional = true },
			401, `Bearer realm="app.example", error="invalid_token", error_description="the access token is invalid"`, "malformed"},
		{"keys unavailable", func() *http.Request { return request(valid) }, func(c *Config) {
			c.Keys = func(string) (token.KeyResolver, error) { return unavailable{}, nil }
		}, 503, "", "keys_unavailable"},
		{"claim with control characters", func() *http.Request {
			return request(s.sign(t, baseClaims(map[string]any{"email": "a@b\r\nX-Admin: 1"})))
		}, nil, 401, `Bearer realm="app.example", error="invalid_token", error_description="the access token is invalid"`, ReasonBadHeaderValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, set, tc.mutate)
			r := tc.req()
			d, e := g.Authorize(r, loopback)
			if tc.status == 200 {
				if e != nil {
					t.Fatalf("refused: %v", e)
				}
				if d.Claims == nil && !g.cfg.Optional {
					t.Fatal("accepted without claims")
				}
				return
			}
			if e == nil {
				t.Fatalf("accepted, want %d", tc.status)
			}
			if e.Status != tc.status || e.Reason != tc.reason {
				t.Fatalf("status %d reason %q (%s), want %d %q", e.Status, e.Reason, e.Description, tc.status, tc.reason)
			}
			if got := e.Challenge("app.example"); got != tc.challenge {
				t.Fatalf("challenge\n got %s\nwant %s", got, tc.challenge)
			}
		})
	}
}

func TestIdentityHeadersAreNeverClientSupplied(t *testing.T) {
	s, set := ecFixture(t)
	paths := map[string]string{
		"valid":     s.sign(t, baseClaims(map[string]any{"email": nil})),
		"failed":    "bad.token.here",
		"anonymous": "",
	}
	for name, tok := range paths {
		t.Run(name, func(t *testing.T) {
			g := newGateway(t, set, func(c *Config) { c.Optional = true })
			r := request(tok)
			r.Header.Set("X-User", "root")
			r.Header.Add("x-user", "root2")
			r.Header.Set("X-Email", "root@evil")
			d, _ := g.Authorize(r, loopback)
			if name == "valid" {
				if got := r.Header.Values("X-User"); len(got) != 1 || got[0] != "alice" {
					t.Fatalf("X-User = %q", got)
				}
				if d.Claims == nil {
					t.Fatal("valid token not accepted")
				}
			} else if got := r.Header.Values("X-User"); len(got) != 0 {
				t.Fatalf("client-supplied X-User survived: %q", got)
			}
			if got := r.Header.Values("X-Email"); len(got) != 0 {
				t.Fatalf("client-supplied X-Email survived (claim absent): %q", got)
			}
		})
	}
}

func TestHeaderRendering(t *testing.T) {
	s, set := ecFixture(t)
	g := newGateway(t, set, func(c *Config) {
		c.Headers = []HeaderMapping{
			{Name: "X-Sub", Claim: "sub"}, {Name: "X-Roles", Claim: "realm_access.roles"},
			{Name: "X-N", Claim: "n"}, {Name: "X-Realm", Claim: "realm_access"}, {Name: "X-Missing", Claim: "nope"},
			{Name: "X-Flag", Claim: "flag"}, {Name: "X-Big", Claim: "big"},
		}
	})
	r := request(s.sign(t, baseClaims(map[string]any{"flag": true, "big": 12345678901234567890.0})))
	if _, e := g.Authorize(r, loopback); e != nil {
		t.Fatal(e)
	}
	want := map[string]string{"X-Sub": "alice", "X-Roles": "admin,dev", "X-N": "42", "X-Realm": `{"roles":["admin","dev"]}`, "X-Flag": "true", "X-Big": "12345678901234567000"}
	for h, v := range want {
		if got := r.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	if _, ok := r.Header["X-Missing"]; ok {
		t.Error("absent claim produced a header")
	}
}

func TestStripToken(t *testing.T) {
	s, set := ecFixture(t)
	tok := s.sign(t, baseClaims(nil))
	cases := []struct {
		src   TokenSource
		setup func(r *http.Request)
		check func(t *testing.T, r *http.Request)
	}{
		{TokenSource{Kind: "header", Name: "Authorization", Scheme: "Bearer"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) },
			func(t *testing.T, r *http.Request) {
				if r.Header.Get("Authorization") != "" {
					t.Fatal("header kept")
				}
			}},
		{TokenSource{Kind: "header", Name: "X-Api-Token"}, func(r *http.Request) { r.Header.Set("X-Api-Token", tok) },
			func(t *testing.T, r *http.Request) {
				if r.Header.Get("X-Api-Token") != "" {
					t.Fatal("header kept")
				}
			}},
		{TokenSource{Kind: "query", Name: "access_token"}, func(r *http.Request) { r.URL.RawQuery = "a=1&access_token=" + tok + "&b=2" },
			func(t *testing.T, r *http.Request) {
				if strings.Contains(r.URL.RawQuery, "access_token") || r.URL.Query().Get("a") != "1" || r.URL.Query().Get("b") != "2" {
					t.Fatalf("query = %q", r.URL.RawQuery)
				}
				if strings.Contains(r.RequestURI, tok) {
					t.Fatal("RequestURI still carries the token")
				}
			}},
		{TokenSource{Kind: "cookie", Name: "at"}, func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: "session", Value: "s1"})
			r.AddCookie(&http.Cookie{Name: "at", Value: tok})
		}, func(t *testing.T, r *http.Request) {
			if _, err := r.Cookie("at"); err == nil {
				t.Fatal("cookie kept")
			}
			if c, err := r.Cookie("session"); err != nil || c.Value != "s1" {
				t.Fatal("other cookie lost")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.src.Kind+"/"+tc.src.Name, func(t *testing.T) {
			g := newGateway(t, set, func(c *Config) { c.Sources = []TokenSource{tc.src}; c.StripToken = true })
			r := request("")
			tc.setup(r)
			if _, e := g.Authorize(r, loopback); e != nil {
				t.Fatal(e)
			}
			tc.check(t, r)
		})
	}
}

func TestCacheHitAndKeyRemoval(t *testing.T) {
	s, set := ecFixture(t)
	g := newGateway(t, set, nil)
	tok := s.sign(t, baseClaims(nil))
	d, e := g.Authorize(request(tok), loopback)
	if e != nil || d.Cached {
		t.Fatalf("first request: %v cached=%v", e, d.Cached)
	}
	d, e = g.Authorize(request(tok), loopback)
	if e != nil || !d.Cached {
		t.Fatalf("second request not served from cache: %v", e)
	}
	// Per-route rules still apply to cached tokens.
	strict := newGateway(t, set, func(c *Config) { c.Cache = g.cfg.Cache; c.Rules.Scopes = []string{"admin"} })
	if _, e := strict.Authorize(request(tok), loopback); e == nil || e.Status != 403 {
		t.Fatalf("cached token skipped the route's scope rule: %v", e)
	}
	set.Keys()[0].Retire()
	if _, e := g.Authorize(request(tok), loopback); e == nil {
		t.Fatal("token verified with a removed key was still accepted")
	}
	if g.cfg.Cache.Len() != 0 {
		t.Fatal("entry of a removed key stayed in the cache")
	}
}

func TestCacheEntriesNeverOutliveExp(t *testing.T) {
	s, set := ecFixture(t)
	now := gwNow
	g := newGateway(t, set, func(c *Config) { c.Now = func() time.Time { return now }; c.Policy.Leeway = 0 })
	tok := s.sign(t, baseClaims(map[string]any{"exp": gwNow.Unix() + 10}))
	if _, e := g.Authorize(request(tok), loopback); e != nil {
		t.Fatal(e)
	}
	now = gwNow.Add(11 * time.Second)
	if _, e := g.Authorize(request(tok), loopback); e == nil || e.Reason != "expired" {
		t.Fatalf("expired cached token: %v", e)
	}
}

type denyAll struct{}

func (denyAll) Allowed(netip.Addr) bool           { return false }
func (denyAll) Explain(netip.Addr) (bool, string) { return false, `deny "0.0.0.0/0"` }

func TestIPCheckRunsBeforeTokenWork(t *testing.T) {
	_, set := ecFixture(t)
	g := newGateway(t, set, func(c *Config) { c.IP = denyAll{} })
	r := request("")
	r.Header.Set("X-User", "root")
	_, e := g.Authorize(r, loopback)
	if e == nil || e.Status != 403 || e.Reason != ReasonIPDenied || e.Rule == "" {
		t.Fatalf("got %+v", e)
	}
	if e.Challenge("x") != "" {
		t.Fatal("IP refusal carries a bearer challenge")
	}
	if r.Header.Get("X-User") != "" {
		t.Fatal("identity header survived an IP refusal")
	}
}

type fakeLocal struct {
	set       *token.KeySet
	opaque    map[string]*token.Claims
	admitErr  error
	addrBound bool
}

func (f *fakeLocal) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	return f.set.ResolveKeys(ctx, kid, alg)
}
func (f *fakeLocal) IssuerURL() string { return "https://idp.example" }
func (f *fakeLocal) LookupOpaque(_ context.Context, tok string) (*token.Claims, error) {
	if c, ok := f.opaque[tok]; ok {
		return c, nil
	}
	return nil, ErrNotFound
}
func (f *fakeLocal) Admit(*token.Claims, netip.Addr) error { return f.admitErr }
func (f *fakeLocal) AddressBound(*token.Claims) bool       { return f.addrBound }

type locals struct{ l LocalIssuer }

func (l locals) ByURL(u string) LocalIssuer {
	if u == l.l.IssuerURL() {
		return l.l
	}
	return nil
}
func (l locals) All() []LocalIssuer { return []LocalIssuer{l.l} }

func TestLocalIssuer(t *testing.T) {
	s, set := ecFixture(t)
	local := &fakeLocal{set: set, opaque: map[string]*token.Claims{
		"opaque-abc": {Issuer: "https://idp.example", Subject: "svc", ClientID: "svc", Audience: []string{"api"}, ExpiresAt: gwNow.Unix() + 60},
	}}
	g := newGateway(t, token.NewKeySet(), func(c *Config) { c.Keys = nil; c.Local = locals{local} })
	if _, e := g.Authorize(request(s.sign(t, baseClaims(nil))), loopback); e != nil {
		t.Fatalf("JWT from local issuer: %v", e)
	}
	r := request("opaque-abc")
	if _, e := g.Authorize(r, loopback); e != nil || r.Header.Get("X-User") != "svc" {
		t.Fatalf("opaque token: %v, X-User=%q", e, r.Header.Get("X-User"))
	}
	if _, e := g.Authorize(request("opaque-unknown"), loopback); e == nil || e.Status != 401 {
		t.Fatalf("unknown opaque token: %v", e)
	}
	local.admitErr = errors.New("token revoked")
	if _, e := g.Authorize(request("opaque-abc"), loopback); e == nil || e.Reason != ReasonNotAdmitted {
		t.Fatalf("cached token not re-admitted: %v", e)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, set := ecFixture(t)
	bad := []func(*Config){
		func(c *Config) { c.Sources = []TokenSource{{Kind: "body", Name: "x"}} },
		func(c *Config) { c.Sources = []TokenSource{{Kind: "query", Name: "t", Scheme: "Bearer"}} },
		func(c *Config) { c.Policy.Algorithms = []string{"none"} },
		func(c *Config) { c.Keys = nil },
		func(c *Config) { c.Headers = append(c.Headers, HeaderMapping{Name: "x-user", Claim: "email"}) },
		func(c *Config) { c.Rules.Claims = []ClaimRule{{Path: "x"}} },
	}
	for i, mutate := range bad {
		cfg := Config{Keys: staticKeys(set), Headers: []HeaderMapping{{Name: "X-User", Claim: "sub"}}}
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("case %d: accepted", i)
		}
	}
}

// eofTrailers models net/http: it merges the received trailers into the
// request's trailer map when the body reaches EOF.
type eofTrailers struct {
	r    *strings.Reader
	dst  http.Header
	sent http.Header
}

func (b *eofTrailers) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil {
		for k, v := range b.sent {
			b.dst[k] = v
		}
	}
	return n, err
}
func (b *eofTrailers) Close() error { return nil }

func TestIdentityTrailersAreStripped(t *testing.T) {
	s, set := ecFixture(t)
	g := newGateway(t, set, nil)
	r := request(s.sign(t, baseClaims(nil)))
	r.Trailer = http.Header{"X-User": nil, "X-Email": nil, "X-Other": nil}
	r.Body = &eofTrailers{r: strings.NewReader("body"), dst: r.Trailer,
		sent: http.Header{"X-User": {"root"}, "X-Email": {"root@evil"}, "X-Other": {"kept"}}}
	if _, e := g.Authorize(r, loopback); e != nil {
		t.Fatal(e)
	}
	if _, declared := r.Trailer["X-User"]; declared {
		t.Fatal("identity trailer still declared")
	}
	if _, err := io.ReadAll(r.Body); err != nil {
		t.Fatal(err)
	}
	if len(r.Trailer["X-User"]) != 0 || len(r.Trailer["X-Email"]) != 0 || r.Trailer.Get("X-Other") != "kept" {
		t.Fatalf("trailers after EOF: %v", r.Trailer)
	}
}
