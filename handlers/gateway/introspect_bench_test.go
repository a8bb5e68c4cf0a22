package gateway

import (
	"slices"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// BenchmarkIntrospectCacheHit compares, in one run, the whole pipeline for
// a repeated opaque token answered from the introspection cache (hash of
// the token, lookup, policy, a scope rule, a claim rule, identity headers)
// with the same pipeline for a repeated JWT answered from the
// verified-token cache. 16 rounds alternate which goes first; it reports
// both costs per request and the median over rounds of their ratio.
func BenchmarkIntrospectCacheHit(b *testing.B) {
	srv := newIntrospectionServer(b)
	clock := testutil.NewClock(gwNow)
	in := newIntrospector(b, srv.URL, clock, func(c *IntrospectConfig) { c.CacheTTL = time.Hour })
	remote := introspectGateway(b, in, clock, nil)
	bc := benchCases(b)[0]
	local := introspectGateway(b, nil, clock, func(c *Config) { c.Introspect = nil; c.Keys = staticKeys(bc.set) })
	jwtReq, opaqueReq := request(bc.tok), request(opaqueTok)
	if _, e := remote.Authorize(opaqueReq, loopback); e != nil {
		b.Fatal(e)
	}
	if _, e := local.Authorize(jwtReq, loopback); e != nil {
		b.Fatal(e)
	}
	const rounds = 16
	per := max(b.N/rounds, 1)
	ratios := make([]float64, 0, rounds)
	var jwtTotal, opaqueTotal time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for round := range rounds {
		run := func(g *Gateway, tok string) time.Duration {
			r := request(tok)
			start := time.Now()
			for range per {
				if d, e := g.Authorize(r, loopback); e != nil || !d.Cached {
					b.Fatalf("not a cache hit: %v", e)
				}
			}
			return time.Since(start)
		}
		var j, o time.Duration
		if round%2 == 0 {
			j, o = run(local, bc.tok), run(remote, opaqueTok)
		} else {
			o, j = run(remote, opaqueTok), run(local, bc.tok)
		}
		jwtTotal += j
		opaqueTotal += o
		ratios = append(ratios, float64(o)/float64(j))
	}
	b.StopTimer()
	slices.Sort(ratios)
	n := float64(rounds * per)
	b.ReportMetric(float64(jwtTotal.Nanoseconds())/n, "jwt-hit-ns/op")
	b.ReportMetric(float64(opaqueTotal.Nanoseconds())/n, "introspect-hit-ns/op")
	b.ReportMetric((ratios[rounds/2-1]+ratios[rounds/2])/2, "introspect/jwt")
	if srv.calls.Load() != 1 {
		b.Fatalf("endpoint calls = %d, want 1", srv.calls.Load())
	}
}

// BenchmarkIntrospectCacheHitParallel is the introspection hit from every
// core at once, as BenchmarkCacheHit is for JWTs: ns/op (wall time per
// request) must not grow with -cpu 2, since a hit takes no lock.
func BenchmarkIntrospectCacheHitParallel(b *testing.B) {
	srv := newIntrospectionServer(b)
	clock := testutil.NewClock(gwNow)
	in := newIntrospector(b, srv.URL, clock, func(c *IntrospectConfig) { c.CacheTTL = time.Hour })
	g := introspectGateway(b, in, clock, nil)
	if _, e := g.Authorize(request(opaqueTok), loopback); e != nil {
		b.Fatal(e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := request(opaqueTok)
		for pb.Next() {
			if d, e := g.Authorize(r, loopback); e != nil || !d.Cached {
				b.Error("not a cache hit")
				return
			}
		}
	})
}
