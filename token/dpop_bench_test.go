package token

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"
)

type noReplay struct{}

func (noReplay) MarkUsed(context.Context, string, time.Time) (bool, error) { return true, nil }

// BenchmarkDPoPVerify is the proof verifier alone (no replay store) against
// the raw primitive on the same proof, interleaved: the verifier's own cost
// beyond the signature.
func BenchmarkDPoPVerify(b *testing.B) {
	k := newProofKey(b, EdDSA)
	proof := k.proof(b, "GET", testHTU, dpopNow, `"ath":"`+AccessTokenHash("tok")+`"`)
	v := &DPoPVerifier{Replay: noReplay{}}
	req := DPoPRequest{Method: "GET", URL: testHTU, Now: dpopNow, AccessToken: "tok"}
	i := strings.LastIndexByte(proof, '.')
	input := []byte(proof[:i])
	sig, _ := b64.DecodeString(proof[i+1:])
	pub := k.private.Public().(ed25519.PublicKey)
	var rawDur, vDur time.Duration
	for done := 0; done < b.N; done += 32 {
		s := time.Now()
		for j := 0; j < 32; j++ {
			ed25519.Verify(pub, input, sig)
		}
		m := time.Now()
		for j := 0; j < 32; j++ {
			if _, err := v.Verify(context.Background(), proof, req); err != nil {
				b.Fatal(err)
			}
		}
		rawDur += m.Sub(s)
		vDur += time.Since(m)
	}
	b.ReportMetric(float64(vDur)/float64(rawDur), "verify/raw")
	b.ReportMetric(float64(vDur-rawDur)/float64(b.N), "overhead-ns/op")
}
