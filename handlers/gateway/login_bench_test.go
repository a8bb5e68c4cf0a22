package gateway

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// BenchmarkSessionVsCachedBearer compares, in one run, a request with a
// valid browser session against a request with a cached bearer token on
// the same route (an identity header each), in interleaved rounds; it
// reports the median per-request cost of both, their difference
// (session-minus-bearer-ns, target <= 1000) and ratio.
func BenchmarkSessionVsCachedBearer(b *testing.B) {
	sg, keys := ecFixture(b)
	f := newLoginFixture(b, func(_ *LoginConfig, cfg *Config) {
		cfg.Keys = staticKeys(keys)
		cfg.Cache = NewCache(DefaultCacheSize)
		cfg.Headers = []HeaderMapping{{Name: "X-User", Claim: "sub"}}
	})
	c := f.signIn(b, "/")
	bearer := "Bearer " + sg.sign(b, baseClaims(nil))
	line := "authgate_session=" + c.Value + "; theme=dark"
	cookieLine := make([]string, 1)
	rs := httptest.NewRequest(http.MethodGet, "http://app.example/api", nil)
	rb := httptest.NewRequest(http.MethodGet, "http://app.example/api", nil)
	rb.Header["Cookie"] = []string{"theme=dark"}
	authz := make([]string, 1)
	session := func() {
		cookieLine[0] = line // the gateway strips the session cookie in place
		rs.Header["Cookie"] = cookieLine
		if d, e := f.gw.Authorize(rs, loopback); e != nil || !d.Session {
			b.Fatalf("session: %v", e)
		}
	}
	cached := func() {
		authz[0] = bearer
		rb.Header["Authorization"] = authz
		if d, e := f.gw.Authorize(rb, loopback); e != nil || !d.Cached {
			b.Fatalf("bearer: %v", e)
		}
	}
	rb.Header["Authorization"] = []string{bearer}
	f.gw.Authorize(rb, loopback) // fills the verified-token cache
	session()
	cached()

	const rounds, batch = 16, 512
	var sessNs, bearNs []float64
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		for r := 0; r < rounds && done < b.N; r++ {
			t0 := time.Now()
			for i := 0; i < batch; i++ {
				cached()
			}
			t1 := time.Now()
			for i := 0; i < batch; i++ {
				session()
			}
			t2 := time.Now()
			bearNs = append(bearNs, float64(t1.Sub(t0).Nanoseconds())/batch)
			sessNs = append(sessNs, float64(t2.Sub(t1).Nanoseconds())/batch)
			done += batch
		}
	}
	b.StopTimer()
	ms, mb := median(sessNs), median(bearNs)
	diffs := make([]float64, len(sessNs))
	for i := range sessNs {
		diffs[i] = sessNs[i] - bearNs[i]
	}
	b.ReportMetric(mb, "bearer-ns/op")
	b.ReportMetric(ms, "session-ns/op")
	b.ReportMetric(median(diffs), "session-minus-bearer-ns")
	b.ReportMetric(ms/mb, "session/bearer")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
