package token

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkRefuseHostileToken compares, in one run, the cost of refusing
// the hostile unsigned token (~7.9 KB, ~2000 distinct scopes, iss
// last) with refusing an ordinary one, both forged for a trusted kid and
// refused at the same step:
//
//   - signature/<alg>: a wrong signature (the attack: the most work an
//     outsider can ask for);
//   - unknown_kid: a kid no key has, refused after the header and iss;
//   - issuer: an untrusted iss, refused before any key is touched;
//   - header: a header of ~6 KB of escaped member names (refused for its
//     size of objects) against an unknown-kid token.
//
// "ordinary" is a typical ~350-byte token; "ordinary_same_size" pads one to
// the hostile token's length with a single long claim, so the two differ
// only in what the payload holds, not how long it is. Each reported ratio is
// the median of 16 interleaved rounds (the order alternates per round), so
// machine noise hits both sides alike. Target: hostile/ordinary <= 2 where a
// fixed cost (a signature primitive) is involved; hostile/same_size <= 2
// everywhere (no content of an unsigned token buys more than its length).
func BenchmarkRefuseHostileToken(b *testing.B) {
	k := newTestKeys(b)
	set := k.set(b)
	keys := staticKeys(set)
	ordinaryPayload := claimsJSON("")

	forgeWith := func(alg, kid string, key any, payload string) string {
		return signRaw(b, alg, key, `{"alg":"`+alg+`","kid":"`+kid+`"}`, payload)
	}
	type path struct {
		name   string
		mk     func(payload string) string
		policy Policy
		reason Reason
	}
	wrongHMAC := []byte("0123456789abcdef0123456789abcdef")
	wrongRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	paths := []path{
		{"signature/ES256", func(p string) string { return forgeWith(ES256, "ec1", k.other, p) }, Policy{}, ReasonSignature},
		{"signature/RS256", func(p string) string { return forgeWith(RS256, "rsa1", wrongRSA, p) }, Policy{}, ReasonSignature},
		{"signature/HS256", func(p string) string { return forgeWith(HS256, "hs1", wrongHMAC, p) }, Policy{}, ReasonSignature},
		{"unknown_kid", func(p string) string { return forgeWith(ES256, "nope", k.other, p) }, Policy{}, ReasonUnknownKey},
		{"issuer", func(p string) string { return forgeWith(ES256, "ec1", k.other, p) }, Policy{Issuers: []string{"https://other.example"}}, ReasonIssuer},
	}
	for _, p := range paths {
		// ~2000 scopes: as many as fit the size limit with this signature.
		n := 2000
		for len(p.mk(hostileScopes(n))) > DefaultMaxTokenBytes {
			n -= 10
		}
		hostilePayload := hostileScopes(n)
		padded := claimsJSON(`"pad":"` + strings.Repeat("x", len(hostilePayload)-len(ordinaryPayload)-9) + `"`)
		hostile, ordinary, same := p.mk(hostilePayload), p.mk(ordinaryPayload), p.mk(padded)
		refuse := func(tok string) func() {
			pol := p.policy
			return func() {
				if _, err := VerifySignature(context.Background(), tok, &pol, keys); err == nil {
					b.Fatal("accepted")
				}
			}
		}
		for _, tok := range []string{hostile, ordinary, same} {
			_, err := VerifySignature(context.Background(), tok, &p.policy, keys)
			if te, ok := err.(*Error); !ok || te.Reason != p.reason {
				b.Fatalf("%s: %d-byte token: %v, want %s", p.name, len(tok), err, p.reason)
			}
		}
		if len(hostile) < 7800 || n < 1900 || len(same) != len(hostile) {
			b.Fatalf("token sizes: hostile %d (%d scopes), same size %d", len(hostile), n, len(same))
		}
		b.Run(p.name, func(b *testing.B) {
			h, o, s := refuse(hostile), refuse(ordinary), refuse(same)
			hNs, ratios := interleave(b, h, o, s)
			b.ReportMetric(hNs, "hostile-ns/op")
			b.ReportMetric(ratios[0], "hostile/ordinary")
			b.ReportMetric(ratios[1], "hostile/same_size")
		})
	}
	// A forged header stuffed with escaped member names (parsed before the
	// signature), against an ordinary token with an unknown kid and one
	// whose header is padded to the same length with a single long value.
	b.Run("header", func(b *testing.B) {
		hdr := hostileHeader(5800)
		hostile := signRaw(b, ES256, k.other, hdr, ordinaryPayload)
		ordinary := forgeWith(ES256, "nope", k.other, ordinaryPayload)
		same := signRaw(b, ES256, k.other, `{"alg":"ES256","kid":"nope","x5t":"`+strings.Repeat("x", len(hdr)-37)+`"}`, ordinaryPayload)
		if len(same) != len(hostile) {
			b.Fatalf("token sizes: hostile %d, same size %d", len(hostile), len(same))
		}
		refuse := func(tok string) func() {
			return func() {
				if _, err := VerifySignature(context.Background(), tok, &Policy{}, keys); err == nil {
					b.Fatal("accepted")
				}
			}
		}
		hNs, ratios := interleave(b, refuse(hostile), refuse(ordinary), refuse(same))
		b.ReportMetric(hNs, "hostile-ns/op")
		b.ReportMetric(ratios[0], "hostile/ordinary")
		b.ReportMetric(ratios[1], "hostile/same_size")
	})
}

// interleave runs hostile and each baseline in 16 alternating rounds of
// b.N/16 calls and returns hostile's mean ns per call and, per baseline, the
// median over rounds of hostile's time divided by the baseline's.
func interleave(b *testing.B, hostile func(), baselines ...func()) (float64, []float64) {
	const rounds = 16
	per := max(b.N/rounds, 1)
	ratios := make([][]float64, len(baselines))
	var hostileTotal time.Duration
	timeIt := func(f func()) time.Duration {
		start := time.Now()
		for range per {
			f()
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for r := range rounds {
		var h time.Duration
		base := make([]time.Duration, len(baselines))
		if r%2 == 0 {
			h = timeIt(hostile)
		}
		for i, f := range baselines {
			base[i] = timeIt(f)
		}
		if r%2 == 1 {
			h = timeIt(hostile)
		}
		hostileTotal += h
		for i := range baselines {
			ratios[i] = append(ratios[i], float64(h)/float64(base[i]))
		}
	}
	out := make([]float64, len(baselines))
	for i, rs := range ratios {
		slices.Sort(rs)
		out[i] = (rs[rounds/2-1] + rs[rounds/2]) / 2
	}
	return float64(hostileTotal.Nanoseconds()) / float64(rounds*per), out
}

// BenchmarkVerifyOrdinary is the accepted-token hot path for an ordinary
// ES256 token (header, iss scan, signature, claims), against the raw verify
// of the same key as the baseline in the same run.
func BenchmarkVerifyOrdinary(b *testing.B) {
	k := newTestKeys(b)
	set := k.set(b)
	for _, alg := range []string{ES256, HS256} {
		key, kid := any(k.ec), "ec1"
		if alg == HS256 {
			key, kid = k.hmac, "hs1"
		}
		tok := signRaw(b, alg, key, `{"alg":"`+alg+`","kid":"`+kid+`","typ":"at+jwt"}`, claimsJSON(`"client_id":"c1","jti":"j1","realm_access":{"roles":["a","b"]}`))
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := VerifySignature(context.Background(), tok, &Policy{}, staticKeys(set)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
