package issuer

import (
	"context"
	"testing"
	"time"
)

// BenchmarkAdmitUserToken measures what an in-process gateway's admission
// costs for a user's token (revocation, client, and the user lookup)
// against a client's own token, in alternating batches of one run.
func BenchmarkAdmitUserToken(b *testing.B) {
	e := peopleEnv(b, nil)
	ctx := context.Background()
	r := e.mustExchange("web", e.putCode(codeOpts{}))
	user, err := e.iss.resolve(ctx, str(r.body, "access_token"))
	if err != nil {
		b.Fatal(err)
	}
	own, err := e.iss.resolve(ctx, e.token("app", "app-secret", nil))
	if err != nil {
		b.Fatal(err)
	}
	uc, cc := user.claims(testIss), own.claims(testIss)
	const batch = 256
	var userT, ownT time.Duration
	var n int
	b.ResetTimer()
	for n < b.N {
		t0 := time.Now()
		for range batch {
			if err := e.iss.Admit(uc, e.ip); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for range batch {
			if err := e.iss.Admit(cc, e.ip); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		userT += t1.Sub(t0)
		ownT += t2.Sub(t1)
		n += batch
	}
	b.ReportMetric(float64(userT.Nanoseconds())/float64(n), "ns/user-admit")
	b.ReportMetric(float64(ownT.Nanoseconds())/float64(n), "ns/client-admit")
	b.ReportMetric(float64(userT)/float64(ownT), "user/client")
}
