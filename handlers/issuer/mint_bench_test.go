package issuer

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// BenchmarkMintJWT measures the minting path (rate limit, jti, claims
// hand-built (json_append.go), signature, response encoding) against the bare
// signature of the same claims, in alternating batches of one run; it
// reports ns per mint, ns per signature and their ratio (the cost of
// everything but the signature).
func BenchmarkMintJWT(b *testing.B) {
	e := newEnv(b, func(c *Config) {
		c.Clients[0].RateLimit = &RateLimit{} // no limit
	})
	ctx := context.Background()
	c := e.iss.clients.load().byID["app"]
	m := &mintRequest{client: c, subject: c.id, scopes: c.scopes, audience: c.audience, lifetime: c.ttl, format: FormatJWT}
	now := e.clock.Now()
	claims, err := encodeAccessClaims(e.iss.iss, m, "0123456789abcdefghijkl", now.Unix(), now.Unix()+3600)
	if err != nil {
		b.Fatal(err)
	}
	signer := e.iss.keys.current(ctx).signer
	const batch = 64
	var mintT, signT time.Duration
	var n int
	b.ResetTimer()
	for n < b.N {
		t0 := time.Now()
		for range batch {
			resp, oe := e.iss.mint(ctx, m, now)
			if oe != nil {
				b.Fatal(oe)
			}
			writeJSONDiscard(resp)
		}
		t1 := time.Now()
		for range batch {
			if _, err := signer.Sign(token.TypAccessToken, claims); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		mintT += t1.Sub(t0)
		signT += t2.Sub(t1)
		n += batch
	}
	b.ReportMetric(float64(mintT.Nanoseconds())/float64(n), "ns/mint")
	b.ReportMetric(float64(signT.Nanoseconds())/float64(n), "ns/sign")
	b.ReportMetric(float64(mintT)/float64(signT), "mint/sign")
}

func writeJSONDiscard(v any) {
	w := discardWriter{h: make(map[string][]string, 4)}
	writeJSON(w, 200, v)
}

type discardWriter struct{ h map[string][]string }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
