package gateway

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
	"golang.org/x/sys/unix"

	"github.com/authgate/caddy-authgate/token"
)

// BenchmarkDPoPRequest is a DPoP request at the gateway (a cached bound
// token, a fresh proof verified, its jti recorded in the replay cache)
// against its baseline measured in the same run: a cached Bearer request
// plus one raw verify of another proof's signature (hash + primitive, no
// JOSE). Batches of both alternate, in alternating order; proofs are signed
// between batches, outside the clocks. Each batch is timed by the thread's
// CPU clock (the goroutine is locked to its thread), which other processes
// on a shared machine do not move, and by the wall clock. dpop/baseline
// (CPU) is the ratio the design bounds at 1.1; report the median of >= 16
// runs (-count 16).
func BenchmarkDPoPRequest(b *testing.B) {
	for _, alg := range []string{token.ES256, token.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			s, set := ecFixture(b)
			cl := newBenchDPoPClient(b, alg)
			bound := s.sign(b, baseClaims(map[string]any{"cnf": map[string]any{"jkt": cl.jkt}}))
			plain := s.sign(b, baseClaims(nil))
			now := gwNow
			g := newGateway(b, set, func(c *Config) {
				c.Rules.Scopes = []string{"orders:read"}
				c.Headers = []HeaderMapping{{Name: "X-User", Claim: "sub"}}
				c.DPoP.Verifier.Replay = NewReplayCache(0, func() time.Time { return now })
			})
			bearerReq := request(plain)
			if _, e := g.Authorize(bearerReq, loopback); e != nil {
				b.Fatal(e)
			}
			const batch = 32
			proofs := make([]string, batch)
			reqs := make([]*http.Request, batch)
			raws := make([]func() bool, batch)
			sign := func() {
				for i := range proofs {
					proofs[i] = cl.proof(b, "GET", dpopURL, bound)
					reqs[i] = dpopRequest(bound, proofs[i])
					// The baseline verifies other proofs of the same kind
					// (not one over and over: variable-time verification
					// would run on perfectly predicted branches).
					raws[i] = cl.rawVerifier(b, cl.proof(b, "GET", dpopURL, bound))
				}
			}
			sign()
			if d, e := g.Authorize(reqs[0], loopback); e != nil {
				b.Fatal(e)
			} else if _, e := g.Authorize(dpopRequest(bound, cl.proof(b, "GET", dpopURL, bound)), loopback); e != nil || d.Claims == nil {
				b.Fatal(e)
			}
			sign()
			var baseDur, dpopDur, baseCPU, dpopCPU time.Duration
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				b.StopTimer()
				sign()
				b.StartTimer()
				base := func() (time.Duration, time.Duration) {
					start, cpu := time.Now(), threadCPU(b)
					for i := 0; i < batch; i++ {
						if d, e := g.Authorize(bearerReq, loopback); e != nil || !d.Cached || !raws[i]() {
							b.Fatal("baseline failed")
						}
					}
					return time.Since(start), threadCPU(b) - cpu
				}
				dpop := func() (time.Duration, time.Duration) {
					start, cpu := time.Now(), threadCPU(b)
					for i := 0; i < batch; i++ {
						if d, e := g.Authorize(reqs[i], loopback); e != nil || !d.Cached {
							b.Fatalf("DPoP request: %v", e)
						}
					}
					return time.Since(start), threadCPU(b) - cpu
				}
				add := func(wall, cpu *time.Duration, run func() (time.Duration, time.Duration)) {
					w, c := run()
					*wall += w
					*cpu += c
				}
				// Alternate which goes first, so an order effect (caches,
				// clock boost) favours neither.
				if done/batch%2 == 0 {
					add(&baseDur, &baseCPU, base)
					add(&dpopDur, &dpopCPU, dpop)
				} else {
					add(&dpopDur, &dpopCPU, dpop)
					add(&baseDur, &baseCPU, base)
				}
				// Keep the replay cache's clock moving, as in real life:
				// buckets expire, the cache stays at its working size.
				now = now.Add(time.Millisecond)
			}
			n := float64((b.N + batch - 1) / batch * batch)
			b.ReportMetric(float64(baseCPU.Nanoseconds())/n, "baseline-cpu-ns/op")
			b.ReportMetric(float64(dpopCPU.Nanoseconds())/n, "dpop-cpu-ns/op")
			b.ReportMetric(float64(dpopCPU)/float64(baseCPU), "dpop/baseline")
			b.ReportMetric(float64(dpopDur)/float64(baseDur), "wall-dpop/baseline")
		})
	}
}

// benchDPoPClient signs proofs with our signer (the benchmark measures the
// verifier, not the signer).
type benchDPoPClient struct {
	alg    string
	priv   any
	header string // the proof's JOSE header, base64url
	pub    any
	jkt    string
	n      int
}

func newBenchDPoPClient(b *testing.B, alg string) *benchDPoPClient {
	priv, err := token.GenerateKey(alg)
	if err != nil {
		b.Fatal(err)
	}
	s, err := token.NewSigner("k", alg, priv)
	if err != nil {
		b.Fatal(err)
	}
	jwk, err := token.PublicJWK("k", alg, s.VerificationKey().Material)
	if err != nil {
		b.Fatal(err)
	}
	delete(jwk, "kid")
	delete(jwk, "alg")
	delete(jwk, "use")
	hdr := `{"typ":"dpop+jwt","alg":"` + alg + `","jwk":` + mustJSON(b, jwk) + `}`
	jkt, err := token.JWKThumbprint([]byte(mustJSON(b, jwk)), alg)
	if err != nil {
		b.Fatal(err)
	}
	return &benchDPoPClient{alg: alg, priv: priv, header: base64.RawURLEncoding.EncodeToString([]byte(hdr)), pub: s.VerificationKey().Material, jkt: jkt}
}

func (c *benchDPoPClient) proof(b *testing.B, method, url, tok string) string {
	c.n++
	claims := `{"jti":"` + strconv.Itoa(c.n) + `","htm":"` + method + `","htu":"` + url + `","iat":` +
		strconv.FormatInt(gwNow.Unix(), 10) + `,"ath":"` + token.AccessTokenHash(tok) + `"}`
	input := c.header + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	sig, err := jwsbb.Sign(c.priv, c.alg, []byte(input), nil)
	if err != nil {
		b.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// rawVerifier is the baseline: the proof's signature checked with the bare
// primitive.
func (c *benchDPoPClient) rawVerifier(b *testing.B, proof string) func() bool {
	i := strings.LastIndexByte(proof, '.')
	input := []byte(proof[:i])
	sig, _ := base64.RawURLEncoding.DecodeString(proof[i+1:])
	switch pub := c.pub.(type) {
	case *ecdsa.PublicKey:
		return func() bool {
			h := sha256.Sum256(input)
			return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		}
	case ed25519.PublicKey:
		return func() bool { return ed25519.Verify(pub, input, sig) }
	}
	b.Fatalf("no raw verifier for %T", c.pub)
	return nil
}

func mustJSON(b *testing.B, v any) string {
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return string(out)
}

// threadCPU is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}
