package issuer

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
	storeredis "github.com/authgate/caddy-authgate/store/redis"
	"github.com/authgate/caddy-authgate/token"
)

// BenchmarkStorageRedisVsBolt compares an issuer on Redis with one on bbolt
// in the same run: client-credentials tokens/s through the token endpoint
// handler (JWT: no store write; opaque: one stored record each), 16
// concurrent callers, and the in-process admission check a gateway runs on
// every request (revocation set, client state, shared-store health). It
// reports the median of 16 interleaved rounds of each as redis/bolt ratios.
//
//	go test ./handlers/issuer -run '^$' -bench StorageRedisVsBolt -benchtime 1x
func BenchmarkStorageRedisVsBolt(b *testing.B) {
	bdb, rdb := benchEngines(b, redisserver.Options{AOF: true})
	open := func(st store.Engine) *Issuer { return benchIssuer(b, st, nil) }
	engines := []struct {
		name string
		iss  *Issuer
	}{{"bolt", open(bdb)}, {"redis", open(rdb)}}

	issue := func(iss *Issuer, client string, n, conc int) time.Duration {
		body := url.Values{"grant_type": {GrantClientCredentials}}.Encode()
		var wg sync.WaitGroup
		start := time.Now()
		for g := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < n; i += conc {
					r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(body))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.SetBasicAuth(client, client+"-secret")
					w := httptest.NewRecorder()
					iss.Handle(w, r, benchAddr)
					if w.Code != 200 {
						b.Errorf("%s: %d %s", client, w.Code, w.Body.String())
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	admit := func(iss *Issuer, n int) time.Duration {
		c := &token.Claims{Issuer: testIss, JTI: "jti-0123456789", ClientID: "app", Scopes: []string{"read"}}
		addr := benchAddr
		start := time.Now()
		for range n {
			if err := iss.Admit(c, addr); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	// A revocation set that is not empty, as in production.
	for _, e := range engines {
		for i := range 1000 {
			e.iss.revoked.add(fmt.Sprint("revoked-", i), time.Now().Add(time.Hour).Unix())
		}
	}
	const rounds = 16
	type series [2][]float64 // per engine: per-round rate or cost
	var jwt, opaque, adm series
	for range b.N {
		for r := range rounds {
			for k, e := range engines {
				if r%2 == 1 {
					k = 1 - k // alternate which engine goes first
					e = engines[k]
				}
				jwt[k] = append(jwt[k], 400/issue(e.iss, "app", 400, 16).Seconds())
				opaque[k] = append(opaque[k], 200/issue(e.iss, "opq", 200, 16).Seconds())
				adm[k] = append(adm[k], float64(admit(e.iss, 200000).Nanoseconds())/200000)
			}
		}
	}
	report := func(name, unit string, s series) {
		bolt, redis := median(s[0]), median(s[1])
		var ratios []float64
		for i := range s[0] {
			ratios = append(ratios, s[1][i]/s[0][i])
		}
		b.ReportMetric(bolt, name+"_bolt_"+unit)
		b.ReportMetric(redis, name+"_redis_"+unit)
		b.ReportMetric(median(ratios), name+"_redis/bolt")
	}
	report("jwt", "tokens/s", jwt)
	report("opaque", "tokens/s", opaque)
	report("admit", "ns", adm)
}

// benchEngines opens a bbolt file and an engine on a real redis-server
// started with opts (AOF: appendfsync always, as durable as bbolt).
func benchEngines(b *testing.B, opts redisserver.Options) (bolt, redis store.Engine) {
	srv := redisserver.Start(b, opts)
	rdb, err := storeredis.New(storeredis.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	bdb, err := store.OpenBolt(filepath.Join(b.TempDir(), "a.db"), store.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rdb.Close(); _ = bdb.Close() })
	return bdb, rdb
}

// benchIssuer is an issuer of baseConfig on st, without rate limits;
// mutate (if any) changes the config first.
func benchIssuer(b *testing.B, st store.Engine, mutate func(*Config)) *Issuer {
	cfg := baseConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	for i := range cfg.Clients {
		cfg.Clients[i].RateLimit = &RateLimit{}
	}
	cfg.Store = store.Encrypted(st, nil)
	iss, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return iss
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

var benchAddr = netip.MustParseAddr("10.1.2.3")
