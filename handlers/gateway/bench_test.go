package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/authgate/caddy-authgate/token"
)

// benchCase is one algorithm: a signed token, the key set that verifies it,
// and the raw crypto verify (hash + primitive, no JOSE) as the baseline.
type benchCase struct {
	alg string
	tok string
	set *token.KeySet
	raw func() bool
}

func benchCases(b *testing.B) []benchCase {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	secret := make([]byte, 32)
	rand.Read(secret)

	mk := func(alg string, priv, pub any, raw func(input, sig []byte) bool) benchCase {
		s := signer{alg: alg, kid: "k1", key: priv}
		tok := s.sign(b, baseClaims(nil))
		key, err := token.NewKey("k1", "", pub, "bench")
		if err != nil {
			b.Fatal(err)
		}
		i := strings.LastIndexByte(tok, '.')
		input := []byte(tok[:i])
		sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
		return benchCase{alg: alg, tok: tok, set: token.NewKeySet(key), raw: func() bool { return raw(input, sig) }}
	}
	return []benchCase{
		mk(token.ES256, ec, &ec.PublicKey, func(in, sig []byte) bool {
			h := sha256.Sum256(in)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(&ec.PublicKey, h[:], r, s)
		}),
		mk(token.RS256, rk, &rk.PublicKey, func(in, sig []byte) bool {
			h := sha256.Sum256(in)
			return rsa.VerifyPKCS1v15(&rk.PublicKey, crypto.SHA256, h[:], sig) == nil
		}),
		mk(token.EdDSA, ed, ed.Public(), func(in, sig []byte) bool {
			return ed25519.Verify(ed.Public().(ed25519.PublicKey), in, sig)
		}),
		mk(token.HS256, secret, secret, func(in, sig []byte) bool {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return hmac.Equal(m.Sum(nil), sig)
		}),
	}
}

// BenchmarkUncachedVerify reports, per algorithm and in one run, the raw
// crypto verify cost (raw-ns/op), the whole uncached gateway pipeline
// (handler-ns/op: extraction, header and claims decoding, key lookup,
// signature, policy, a scope rule and an identity header) and their ratio.
// Batches of both alternate so machine noise hits them alike.
func BenchmarkUncachedVerify(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(bc.alg, func(b *testing.B) {
			g := newGateway(b, bc.set, func(c *Config) {
				c.Cache = nil
				c.Rules.Scopes = []string{"orders:read"}
				c.Headers = []HeaderMapping{{Name: "X-User", Claim: "sub"}}
			})
			r := request(bc.tok)
			if _, e := g.Authorize(r, loopback); e != nil || !bc.raw() {
				b.Fatalf("setup: %v", e)
			}
			const batch = 32
			var rawDur, handlerDur, rawCPU, handlerCPU time.Duration
			// The thread's CPU clock too: other sessions on shared cores
			// inflate wall time per op, not the CPU the op takes.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				start, cpu0 := time.Now(), threadCPU(b)
				for i := 0; i < batch; i++ {
					bc.raw()
				}
				mid, cpu1 := time.Now(), threadCPU(b)
				for i := 0; i < batch; i++ {
					g.Authorize(r, loopback)
				}
				rawDur += mid.Sub(start)
				handlerDur += time.Since(mid)
				rawCPU += cpu1 - cpu0
				handlerCPU += threadCPU(b) - cpu1
			}
			n := float64((b.N + batch - 1) / batch * batch)
			b.ReportMetric(float64(rawDur.Nanoseconds())/n, "raw-ns/op")
			b.ReportMetric(float64(handlerDur.Nanoseconds())/n, "handler-ns/op")
			b.ReportMetric(float64(handlerDur)/float64(rawDur), "handler/raw")
			b.ReportMetric(float64(rawCPU.Nanoseconds())/n, "raw-cpu-ns/op")
			b.ReportMetric(float64(handlerCPU.Nanoseconds())/n, "handler-cpu-ns/op")
			b.ReportMetric(float64(handlerCPU)/float64(rawCPU), "handler/raw-cpu")
		})
	}
}

// BenchmarkCacheHit is the whole pipeline for a repeated token: cache
// lookup, policy, a scope rule and an identity header. Run with -cpu 1,2:
// ns/op is wall time per request, so it must not grow with 2 goroutines.
func BenchmarkCacheHit(b *testing.B) {
	bc := benchCases(b)[0]
	g := newGateway(b, bc.set, func(c *Config) {
		c.Rules.Scopes = []string{"orders:read"}
		c.Headers = []HeaderMapping{{Name: "X-User", Claim: "sub"}}
	})
	if _, e := g.Authorize(request(bc.tok), loopback); e != nil {
		b.Fatal(e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		r := request(bc.tok)
		for pb.Next() {
			if d, e := g.Authorize(r, loopback); e != nil || !d.Cached {
				b.Error("not a cache hit")
				return
			}
		}
	})
	reportCPUPerOp(b, processCPU(b)-cpu)
}

// BenchmarkCacheLookup is the cache lookup alone: it must not allocate.
func BenchmarkCacheLookup(b *testing.B) {
	bc := benchCases(b)[0]
	c := NewCache(DefaultCacheSize)
	claims, err := token.VerifySignature(b.Context(), bc.tok, &token.Policy{}, staticKeys(bc.set))
	if err != nil {
		b.Fatal(err)
	}
	c.Put(bc.tok, claims, nil)
	now := gwNow
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, ok := c.Get(bc.tok, now); !ok {
				b.Error("miss")
				return
			}
		}
	})
	reportCPUPerOp(b, processCPU(b)-cpu)
}

// processCPU is this process's user+system CPU time so far (getrusage).
func processCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPUPerOp reports process CPU per op: with -cpu 2 it is the CPU a
// request costs summed over both cores, which other sessions' load on the
// shared cores moves far less than wall time per op.
func reportCPUPerOp(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
