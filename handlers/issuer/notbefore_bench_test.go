package issuer

import (
	"fmt"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// BenchmarkAdmitNotBefore measures Admit (what an in-process gateway asks
// on every request) with 1000 per-client/per-user revocations recorded
// against Admit with none, in alternating batches; it reports ns per Admit
// of each and their ratio.
func BenchmarkAdmitNotBefore(b *testing.B) {
	plain := newEnv(b, nil)
	loaded := newEnv(b, nil)
	var recs []store.NotBefore
	at := loaded.clock.Now().Add(-time.Hour)
	for n := range 1000 {
		kind := store.NotBeforeClient
		if n%2 == 1 {
			kind = store.NotBeforeUser
		}
		recs = append(recs, store.NotBefore{Issuer: testIss, Kind: kind, ID: fmt.Sprint("subject-", n), At: at, Until: at.Add(MaxTTL)})
	}
	loaded.iss.notBefore.replace(recs)
	claims := &token.Claims{Issuer: testIss, JTI: "j", ClientID: "app", Subject: "alice", Scopes: []string{"read"},
		IssuedAt: loaded.clock.Now().Unix()}
	const batch = 256
	var plainT, loadedT time.Duration
	var n int
	b.ReportAllocs()
	b.ResetTimer()
	for n < b.N {
		t0 := time.Now()
		for range batch {
			if err := plain.iss.Admit(claims, plain.ip); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for range batch {
			if err := loaded.iss.Admit(claims, loaded.ip); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		plainT += t1.Sub(t0)
		loadedT += t2.Sub(t1)
		n += batch
	}
	b.ReportMetric(float64(plainT.Nanoseconds())/float64(n), "ns/admit")
	b.ReportMetric(float64(loadedT.Nanoseconds())/float64(n), "ns/admit-1000-notbefore")
	b.ReportMetric(float64(loadedT)/float64(plainT), "ratio")
}
