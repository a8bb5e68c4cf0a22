package issuer

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkTokenPrivateKeyJWT measures whole token requests (form parsing,
// client authentication, minting an ES256 JWT, the JSON answer) through
// Handle: private_key_jwt with jti replay protection against
// client_secret_basic (SHA-256 secret) of the same issuer, in interleaved
// rounds of 64 requests each (one round per b.N; run with -benchtime 16x or
// more). The client's own cost, signing the assertion, is done before each
// round and not counted. It reports requests/s of both and the median of
// the rounds' ratio of time per request.
func BenchmarkTokenPrivateKeyJWT(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) { benchTokenPrivateKeyJWT(b, alg) })
	}
}

func benchTokenPrivateKeyJWT(b *testing.B, alg string) {
	k := newJWTKeys(b)
	e := newEnv(b, func(c *Config) {
		withJWTClients(b, k)(c)
		for j := range c.Clients {
			c.Clients[j].RateLimit = &RateLimit{} // no limit
		}
	})
	client, key, kid := map[string]string{"ES256": "pk-ec", "RS256": "pk-rsa", "EdDSA": "pk-ed"}[alg],
		map[string]any{"ES256": k.ec, "RS256": k.rsa, "EdDSA": k.ed}[alg], map[string]string{"RS256": "k1", "EdDSA": "ed1"}[alg]
	const batch = 64
	basicForm := url.Values{"grant_type": {GrantClientCredentials}}.Encode()
	serve := func(body string, basic bool) {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			r.SetBasicAuth("app", "app-secret")
		}
		w := httptest.NewRecorder()
		e.iss.Handle(w, r, e.ip)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
	var ratios []float64
	var pkT, basicT time.Duration
	b.ResetTimer()
	for range b.N {
		forms := make([]string, batch)
		for j := range forms {
			a := e.assertion(b, key, alg, kid, client, nil)
			forms[j] = url.Values{"grant_type": {GrantClientCredentials}, "client_assertion_type": {ClientAssertionTypeJWT}, "client_assertion": {a}}.Encode()
		}
		t0 := time.Now()
		for _, f := range forms {
			serve(f, false)
		}
		t1 := time.Now()
		for range batch {
			serve(basicForm, true)
		}
		t2 := time.Now()
		pkT += t1.Sub(t0)
		basicT += t2.Sub(t1)
		ratios = append(ratios, float64(t1.Sub(t0))/float64(t2.Sub(t1)))
	}
	n := float64(b.N * batch)
	slices.Sort(ratios)
	b.ReportMetric(n/pkT.Seconds(), "pkjwt_req/s")
	b.ReportMetric(n/basicT.Seconds(), "basic_req/s")
	b.ReportMetric(ratios[len(ratios)/2], "pkjwt/basic")
}
