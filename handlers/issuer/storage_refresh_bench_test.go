package issuer

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
)

// BenchmarkRefreshRedisVsBolt compares refreshes/s (RFC 6749 §6 through the
// token endpoint handler: the spent token, its successor, the family and
// the previous access token's revocation written in one atomic step) of an
// issuer on Redis with one on bbolt, in the same run: 16 interleaved
// rounds, 16 concurrent callers, each round refreshing 200 families once
// (set up, untimed, by code exchanges). It reports the medians and the
// median of the per-round redis/bolt ratios.
//
//	go test ./handlers/issuer -run '^$' -bench RefreshRedisVsBolt -benchtime 1x
func BenchmarkRefreshRedisVsBolt(b *testing.B) {
	bdb, rdb := benchEngines(b, redisserver.Options{AOF: true, FirstPort: 6450, LastPort: 6499})
	type engine struct {
		st  store.Engine
		iss *Issuer
	}
	open := func(st store.Engine) engine {
		return engine{st, benchIssuer(b, st, func(c *Config) {
			c.Clients = append(c.Clients, peopleClients()...)
			c.Users = []UserConfig{{Name: "alice", PasswordHash: cheapHash(b, "alice-pw")}}
		})}
	}
	engines := []engine{open(bdb), open(rdb)}
	post := func(iss *Issuer, f url.Values) map[string]any {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("web", "web-secret")
		w := httptest.NewRecorder()
		iss.Handle(w, r, benchAddr)
		if w.Code != 200 {
			b.Fatalf("%s: %d %s", f.Get("grant_type"), w.Code, w.Body.String())
		}
		var m map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &m)
		return m
	}
	// families starts n families (code put, exchanged) and returns their
	// refresh tokens.
	families := func(e engine, n int) []string {
		out := make([]string, n)
		for i := range out {
			code, _ := randomToken()
			fam, _ := randomJTI()
			now := time.Now()
			if err := e.st.PutCode(context.Background(), store.CodeRecord{
				Hash: codeHash(code), ClientID: "web", RedirectURI: "https://app.example/cb", CodeChallenge: PKCEChallenge(tokensVerifier),
				Scopes: []string{"read"}, Subject: "alice", AuthTime: now, FamilyID: fam,
				RedeemBy: now.Add(time.Minute), ExpiresAt: now.Add(10 * time.Minute),
			}); err != nil {
				b.Fatal(err)
			}
			m := post(e.iss, url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code},
				"code_verifier": {tokensVerifier}, "redirect_uri": {"https://app.example/cb"}})
			out[i], _ = m["refresh_token"].(string)
		}
		return out
	}
	refresh := func(e engine, rts []string, conc int) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for g := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < len(rts); i += conc {
					post(e.iss, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rts[i]}})
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	const rounds, n = 16, 200
	var rates [2][]float64
	for range b.N {
		for r := range rounds {
			for k := range engines {
				if r%2 == 1 {
					k = 1 - k // alternate which engine goes first
				}
				rts := families(engines[k], n)
				rates[k] = append(rates[k], n/refresh(engines[k], rts, 16).Seconds())
			}
		}
	}
	var ratios []float64
	for i := range rates[0] {
		ratios = append(ratios, rates[1][i]/rates[0][i])
	}
	b.ReportMetric(median(rates[0]), "refresh_bolt_refreshes/s")
	b.ReportMetric(median(rates[1]), "refresh_redis_refreshes/s")
	b.ReportMetric(median(ratios), "refresh_redis/bolt")
}
