package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/token"
)

// dpopClient is a DPoP key whose proofs jwx signs (testutil.DPoPKey), at
// the gateway tests' clock.
type dpopClient struct {
	*testutil.DPoPKey
	jkt string
}

func newDPoPClient(t testing.TB) *dpopClient {
	k := testutil.NewDPoPKey(t)
	return &dpopClient{k, k.JKT}
}

// proof signs a proof at gwNow; over replaces claims (nil deletes).
func (c *dpopClient) proof(t testing.TB, method, url, tok string, over map[string]any) string {
	t.Helper()
	return c.Proof(t, method, url, tok, gwNow, over)
}

const dpopURL = "http://app.example/orders"

func dpopRequest(tok, proof string) *http.Request {
	r := request("")
	r.Header.Set("Authorization", "DPoP "+tok)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}

func TestDPoPBinding(t *testing.T) {
	s, set := ecFixture(t)
	cl := newDPoPClient(t)
	other := newDPoPClient(t)
	bound := s.sign(t, baseClaims(map[string]any{"cnf": map[string]any{"jkt": cl.jkt}}))
	plain := s.sign(t, baseClaims(nil))
	g := newGateway(t, set, func(c *Config) { c.Cache = NewCache(10) })

	// Accepted, then served from the cache with a fresh proof each time.
	for i, wantCached := range []bool{false, true} {
		d, e := g.Authorize(dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, nil)), loopback)
		if e != nil || d.Cached != wantCached || d.Claims.Cnf == nil || d.Claims.Cnf.JKT != cl.jkt {
			t.Fatalf("request %d: %v cached=%v", i, e, d.Cached)
		}
	}
	// Plain bearer tokens still work in optional mode.
	if _, e := g.Authorize(request(plain), loopback); e != nil {
		t.Fatalf("plain bearer in optional mode: %v", e)
	}

	replayed := cl.proof(t, "GET", dpopURL, bound, nil)
	if _, e := g.Authorize(dpopRequest(bound, replayed), loopback); e != nil {
		t.Fatal(e)
	}
	refused := map[string]struct {
		r      *http.Request
		code   string
		reason string
	}{
		"replayed proof":      {dpopRequest(bound, replayed), codeInvalidDPoP, string(token.ReasonDPoPReplay)},
		"wrong htm":           {dpopRequest(bound, cl.proof(t, "POST", dpopURL, bound, nil)), codeInvalidDPoP, "dpop_proof"},
		"wrong htu":           {dpopRequest(bound, cl.proof(t, "GET", "http://app.example/other", bound, nil)), codeInvalidDPoP, "dpop_proof"},
		"wrong htu host":      {dpopRequest(bound, cl.proof(t, "GET", "http://evil.example/orders", bound, nil)), codeInvalidDPoP, "dpop_proof"},
		"stale iat":           {dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, map[string]any{"iat": gwNow.Unix() - 120})), codeInvalidDPoP, "dpop_proof"},
		"future iat":          {dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, map[string]any{"iat": gwNow.Unix() + 60})), codeInvalidDPoP, "dpop_proof"},
		"wrong ath":           {dpopRequest(bound, cl.proof(t, "GET", dpopURL, plain, nil)), codeInvalidDPoP, "dpop_proof"},
		"no ath":              {dpopRequest(bound, cl.proof(t, "GET", dpopURL, "", nil)), codeInvalidDPoP, "dpop_proof"},
		"proof key != cnf":    {dpopRequest(bound, other.proof(t, "GET", dpopURL, bound, nil)), "invalid_token", ReasonDPoPKey},
		"no proof":            {dpopRequest(bound, ""), codeInvalidDPoP, ReasonDPoPNoProof},
		"garbage proof":       {dpopRequest(bound, "a.b.c"), codeInvalidDPoP, "dpop_proof"},
		"bound as bearer":     {request(bound), "invalid_token", ReasonDPoPBound},
		"unbound as DPoP":     {dpopRequest(plain, cl.proof(t, "GET", dpopURL, plain, nil)), "invalid_token", ReasonDPoPNotBound},
		"unknown cnf method":  {request(s.sign(t, baseClaims(map[string]any{"cnf": map[string]any{"jwk": map[string]any{}}}))), "invalid_token", ReasonUnknownBound},
		"malformed cnf claim": {request(s.sign(t, baseClaims(map[string]any{"cnf": "x"}))), "invalid_token", string(token.ReasonClaims)},
	}
	two := dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, nil))
	two.Header.Add("DPoP", cl.proof(t, "GET", dpopURL, bound, nil))
	refused["two proofs"] = struct {
		r      *http.Request
		code   string
		reason string
	}{two, codeInvalidDPoP, ReasonDPoPNoProof}
	for name, c := range refused {
		_, e := g.Authorize(c.r, loopback)
		if e == nil || e.Status != http.StatusUnauthorized || e.Code != c.code || e.Reason != c.reason {
			t.Errorf("%s: %v (reason %v), want 401 %s %s", name, e, reasonOf(e), c.code, c.reason)
			continue
		}
		h := http.Header{}
		e.SetHeaders(h, "app")
		ch := h.Values("WWW-Authenticate")
		algs := `algs="` + strings.Join(token.DefaultDPoPAlgorithms, " ") + `"`
		if strings.HasPrefix(c.r.Header.Get("Authorization"), "DPoP") || c.reason == ReasonDPoPBound {
			// RFC 9449 §7.1: the DPoP challenge with the error.
			if len(ch) != 1 || !strings.HasPrefix(ch[0], `DPoP realm="app", error="`+c.code+`"`) || !strings.Contains(ch[0], algs) {
				t.Errorf("%s: challenge %q", name, ch)
			}
		} else if len(ch) != 2 || !strings.HasPrefix(ch[0], `Bearer realm="app", error="invalid_token"`) || ch[1] != `DPoP realm="app", `+algs {
			t.Errorf("%s: challenges %q", name, ch)
		}
	}
}

func reasonOf(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Reason + " / " + e.Description
}

func TestDPoPModes(t *testing.T) {
	s, set := ecFixture(t)
	cl := newDPoPClient(t)
	bound := s.sign(t, baseClaims(map[string]any{"cnf": map[string]any{"jkt": cl.jkt}}))
	plain := s.sign(t, baseClaims(nil))

	req := newGateway(t, set, func(c *Config) { c.DPoP.Mode = DPoPRequired })
	if _, e := req.Authorize(dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, nil)), loopback); e != nil {
		t.Fatalf("required, DPoP: %v", e)
	}
	for name, r := range map[string]*http.Request{"plain bearer": request(plain), "no token": request("")} {
		_, e := req.Authorize(r, loopback)
		if e == nil || e.Status != 401 {
			t.Fatalf("required, %s: %v", name, e)
		}
		h := http.Header{}
		e.SetHeaders(h, "app")
		if ch := h.Values("WWW-Authenticate"); len(ch) != 1 || !strings.HasPrefix(ch[0], `DPoP realm="app"`) || !strings.Contains(ch[0], `algs="ES256 `) {
			t.Fatalf("required, %s: challenge %q", name, ch)
		}
	}

	off := newGateway(t, set, func(c *Config) { c.DPoP.Mode = DPoPOff })
	if _, e := off.Authorize(request(plain), loopback); e != nil {
		t.Fatalf("off, plain: %v", e)
	}
	if _, e := off.Authorize(request(bound), loopback); e == nil || e.Reason != ReasonDPoPBound {
		t.Fatalf("off, bound as bearer: %v", e)
	}
	_, e := off.Authorize(dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, nil)), loopback)
	if e == nil || e.Reason != ReasonNoToken {
		t.Fatalf("off, DPoP scheme: %v", e)
	}
	h := http.Header{}
	e.SetHeaders(h, "app")
	if ch := h.Values("WWW-Authenticate"); len(ch) != 1 || ch[0] != `Bearer realm="app"` {
		t.Fatalf("off: challenge %q", ch)
	}

	if _, err := New(Config{Keys: staticKeys(set), DPoP: DPoPConfig{Mode: "sometimes"}}); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if _, err := New(Config{Keys: staticKeys(set), DPoP: DPoPConfig{Verifier: token.DPoPVerifier{Algorithms: []string{"HS256"}}}}); err == nil {
		t.Fatal("HS256 proofs accepted")
	}
}

// The proof's htu is the URI the client called: a configured URL function
// (the module passes Caddy's original request) wins over r.URL.
func TestDPoPRequestURL(t *testing.T) {
	s, set := ecFixture(t)
	cl := newDPoPClient(t)
	bound := s.sign(t, baseClaims(map[string]any{"cnf": map[string]any{"jkt": cl.jkt}}))
	g := newGateway(t, set, func(c *Config) {
		c.DPoP.URL = func(*http.Request) string { return "https://public.example/api/orders" }
	})
	if _, e := g.Authorize(dpopRequest(bound, cl.proof(t, "GET", "https://public.example/api/orders", bound, nil)), loopback); e != nil {
		t.Fatal(e)
	}
	if _, e := g.Authorize(dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, nil)), loopback); e == nil {
		t.Fatal("proof for the internal URL accepted")
	}
}

func TestReplayCache(t *testing.T) {
	now := gwNow
	c := NewReplayCache(3, func() time.Time { return now })
	ctx := context.Background()
	mark := func(key string, until time.Time) (bool, error) { return c.MarkUsed(ctx, key, until) }
	for _, k := range []string{"a", "b", "c"} {
		if first, err := mark(k, now.Add(time.Minute)); !first || err != nil {
			t.Fatalf("%s: %v %v", k, first, err)
		}
	}
	if first, err := mark("a", now.Add(time.Minute)); first || err != nil {
		t.Fatalf("replay of a: %v %v", first, err)
	}
	// A different until does not hide a replay.
	if first, _ := mark("b", now.Add(2*time.Minute)); first {
		t.Fatal("replay of b with another until accepted")
	}
	// Full of unexpired markers: fail closed, forget nothing.
	if first, err := mark("d", now.Add(time.Minute)); first || err != ErrReplayCacheFull {
		t.Fatalf("full: %v %v", first, err)
	}
	now = now.Add(time.Minute + 2*replayBucketSeconds*time.Second)
	if first, err := mark("d", now.Add(time.Minute)); !first || err != nil {
		t.Fatalf("after expiry: %v %v", first, err)
	}
	if first, _ := mark("a", now.Add(time.Minute)); !first {
		t.Fatal("expired marker still blocks")
	}
	if c.n != 2 {
		t.Fatalf("%d markers, want 2", c.n)
	}
}

// A full replay cache refuses proofs with 503 (the client may retry), it
// never forgets a marker early.
func TestDPoPReplayCacheFull(t *testing.T) {
	s, set := ecFixture(t)
	cl := newDPoPClient(t)
	bound := s.sign(t, baseClaims(map[string]any{"cnf": map[string]any{"jkt": cl.jkt}}))
	g := newGateway(t, set, func(c *Config) { c.DPoP.Verifier.Replay = NewReplayCache(1, func() time.Time { return gwNow }) })
	if _, e := g.Authorize(dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, nil)), loopback); e != nil {
		t.Fatal(e)
	}
	if _, e := g.Authorize(dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, nil)), loopback); e == nil || e.Status != 503 {
		t.Fatalf("full cache: %v", e)
	}
}

// Of concurrent uses of one proof, exactly one passes; strip_token removes
// the proof with the token.
func TestDPoPConcurrentReplayAndStrip(t *testing.T) {
	s, set := ecFixture(t)
	cl := newDPoPClient(t)
	bound := s.sign(t, baseClaims(map[string]any{"cnf": map[string]any{"jkt": cl.jkt}}))
	g := newGateway(t, set, func(c *Config) { c.StripToken = true })
	proof := cl.proof(t, "GET", dpopURL, bound, nil)
	const n = 16
	results := make(chan *Error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, e := g.Authorize(dpopRequest(bound, proof), loopback)
			results <- e
		}()
	}
	ok := 0
	for i := 0; i < n; i++ {
		if e := <-results; e == nil {
			ok++
		} else if e.Reason != string(token.ReasonDPoPReplay) {
			t.Errorf("refusal %v, want a replay", e)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one proof passed", ok, n)
	}
	r := dpopRequest(bound, cl.proof(t, "GET", dpopURL, bound, nil))
	if _, e := g.Authorize(r, loopback); e != nil {
		t.Fatal(e)
	}
	if r.Header.Get("Authorization") != "" || r.Header.Get("DPoP") != "" {
		t.Fatalf("strip_token left %v", r.Header)
	}
}

// A stolen bound token with proofs of the thief's own key records no
// replay markers: they cannot fill the replay cache of the token's owner.
func TestDPoPForeignKeySpendsNothing(t *testing.T) {
	s, set := ecFixture(t)
	owner, thief := newDPoPClient(t), newDPoPClient(t)
	bound := s.sign(t, baseClaims(map[string]any{"cnf": map[string]any{"jkt": owner.jkt}}))
	g := newGateway(t, set, func(c *Config) { c.DPoP.Verifier.Replay = NewReplayCache(1, func() time.Time { return gwNow }) })
	for i := 0; i < 5; i++ {
		if _, e := g.Authorize(dpopRequest(bound, thief.proof(t, "GET", dpopURL, bound, nil)), loopback); e == nil || e.Reason != ReasonDPoPKey || e.Code != "invalid_token" {
			t.Fatalf("thief's proof %d: %v", i, e)
		}
	}
	if _, e := g.Authorize(dpopRequest(bound, owner.proof(t, "GET", dpopURL, bound, nil)), loopback); e != nil {
		t.Fatalf("owner after the thief (a one-marker cache): %v", e)
	}
}
