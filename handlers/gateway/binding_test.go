package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/authgate/caddy-authgate/jwkscache"
	"github.com/authgate/caddy-authgate/token"
)

// A cached verdict of an in-process issuer holds only while that instance is
// the one the gateway trusts: after a "reload" that replaces it (new store)
// or removes it, a cached token gets exactly the uncached answer.
func TestCacheBoundToLocalIssuerInstance(t *testing.T) {
	s, set := ecFixture(t)
	first := &fakeLocal{set: set}
	cache := NewCache(100)
	build := func(l LocalIssuers, keys token.IssuerKeys) *Gateway {
		return newGateway(t, nil, func(c *Config) { c.Keys = keys; c.Local = l; c.Cache = cache })
	}
	g1 := build(locals{first}, nil)
	tok := s.sign(t, baseClaims(nil))
	if d, e := g1.Authorize(request(tok), loopback); e != nil || d.Cached {
		t.Fatalf("first: %v cached=%v", e, d.Cached)
	}
	if d, e := g1.Authorize(request(tok), loopback); e != nil || !d.Cached {
		t.Fatalf("second: %v cached=%v", e, d.Cached)
	}

	// The issuer moved to another store: a new instance that does not know
	// the old keys. The cached verdict must not survive.
	second := &fakeLocal{set: token.NewKeySet()}
	g2 := build(locals{second}, nil)
	if d, e := g2.Authorize(request(tok), loopback); e == nil || d.Cached || e.Status != 401 {
		t.Fatalf("token of a replaced issuer instance: %v cached=%v", e, d.Cached)
	}

	// The issuer was removed: the gateway now finds the keys elsewhere
	// (never fetched): the cached token gets the uncached 503.
	g3 := build(nil, func(string) (token.KeyResolver, error) { return unavailable{}, nil })
	if _, e := g1.Authorize(request(tok), loopback); e != nil { // re-cache under the first instance
		t.Fatal(e)
	}
	if d, e := g3.Authorize(request(tok), loopback); e == nil || d.Cached || e.Status != 503 {
		t.Fatalf("token of a removed issuer: %v cached=%v", e, d.Cached)
	}

	// Opaque tokens are bound to the instance that resolved them.
	first.opaque = map[string]*token.Claims{"opq": {Issuer: "https://idp.example", Subject: "svc", Audience: []string{"api"}, ExpiresAt: gwNow.Unix() + 60}}
	if _, e := g1.Authorize(request("opq"), loopback); e != nil {
		t.Fatal(e)
	}
	if d, e := g2.Authorize(request("opq"), loopback); e == nil || d.Cached {
		t.Fatalf("opaque token of a replaced instance: %v cached=%v", e, d.Cached)
	}
}

// Admission runs on hits as on misses, and a token whose client has an IP
// filter is not judged on a 0-RTT address.
func TestAdmissionOnHitsAndEarlyData(t *testing.T) {
	s, set := ecFixture(t)
	local := &fakeLocal{set: set}
	g := newGateway(t, nil, func(c *Config) { c.Keys = nil; c.Local = locals{local} })
	tok := s.sign(t, baseClaims(nil))
	for i := 0; i < 2; i++ {
		if _, e := g.Authorize(request(tok), loopback); e != nil {
			t.Fatal(e)
		}
	}
	early := func() *http.Request {
		r := request(tok)
		r.TLS = new(tls.ConnectionState) // HandshakeComplete false: 0-RTT
		return r
	}
	if _, e := g.Authorize(early(), loopback); e != nil {
		t.Fatalf("0-RTT with an unfiltered client: %v", e)
	}
	local.addrBound = true
	if _, e := g.Authorize(early(), loopback); e == nil || e.Status != http.StatusTooEarly || e.Challenge("x") != "" {
		t.Fatalf("0-RTT with an IP-filtered client: %v", e)
	}
	done := request(tok)
	done.TLS = &tls.ConnectionState{HandshakeComplete: true}
	if _, e := g.Authorize(done, loopback); e != nil {
		t.Fatalf("after the handshake: %v", e)
	}
}

// A key whose source went stale beyond max_stale fails every token it
// verified, cached or not, with the same 503. The two clocks (gateway and
// key cache) are one injected clock; nothing sleeps.
func TestCachedTokenFailsWhenSourceIsStale(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.Import(&priv.PublicKey)
	_ = pub.Set(jwk.KeyIDKey, "k1")
	_ = pub.Set(jwk.AlgorithmKey, "ES256")
	doc, _ := json.Marshal(map[string]any{"keys": []any{pub}})
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	defer srv.Close()

	var clock atomic.Int64
	clock.Store(gwNow.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	kc := jwkscache.NewCache(jwkscache.CacheConfig{Now: now})
	defer kc.Close()
	src := kc.JWKS(srv.URL, jwkscache.Options{MaxStale: 3 * time.Second, MinRefresh: time.Hour})
	if err := src.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, nil, func(c *Config) {
		c.Keys = func(string) (token.KeyResolver, error) { return src, nil }
		c.Now = now
	})
	s := signer{alg: token.ES256, kid: "k1", key: priv}
	cachedTok := s.sign(t, baseClaims(map[string]any{"jti": "cached"}))
	if _, e := g.Authorize(request(cachedTok), loopback); e != nil {
		t.Fatal(e)
	}
	failing.Store(true)
	clock.Add(int64(2 * time.Second))
	if d, e := g.Authorize(request(cachedTok), loopback); e != nil || !d.Cached {
		t.Fatalf("within max_stale: %v cached=%v", e, d.Cached)
	}
	clock.Add(int64(2 * time.Second)) // 4s after the last success: stale
	fresh := s.sign(t, baseClaims(map[string]any{"jti": "fresh"}))
	_, eFresh := g.Authorize(request(fresh), loopback)
	d, eCached := g.Authorize(request(cachedTok), loopback)
	if eFresh == nil || eFresh.Status != 503 {
		t.Fatalf("uncached token beyond max_stale: %v", eFresh)
	}
	if eCached == nil || eCached.Status != eFresh.Status || eCached.Reason != eFresh.Reason || d.Cached {
		t.Fatalf("cached token beyond max_stale: %v (uncached got %v)", eCached, eFresh)
	}
}
