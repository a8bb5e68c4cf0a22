package issuer

import (
	"net/url"
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	for in, want := range map[string]RateLimit{
		"600/1m": {600, time.Minute}, "1/1s": {1, time.Second}, "off": {}, "1000000/24h": {1_000_000, 24 * time.Hour},
	} {
		got, err := ParseRateLimit(in, nil)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "600", "0/1m", "-1/1m", "1000001/1m", "10/500ms", "10/25h", "x/1m", "10/x", "10/1m/2"} {
		if _, err := ParseRateLimit(in, nil); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// Issuances per client are limited by a token bucket on the issuer's clock:
// beyond it 429 with Retry-After and an RFC 6749-shaped body; only
// issuances count; the issuer-wide default applies to clients without their
// own limit; "off" disables it.
func TestIssuanceRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.RateLimit = &RateLimit{N: 5, Per: time.Minute} // issuer-wide default
		c.Clients[0].RateLimit = &RateLimit{N: 3, Per: time.Minute}
		c.Clients[1].RateLimit = &RateLimit{} // off
	})
	cc := url.Values{"grant_type": {GrantClientCredentials}}
	for range 3 {
		e.token("app", "app-secret", nil)
	}
	// A refused grant (bad scope) is not an issuance.
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}, "scope": {"nope"}}, "app", "app-secret"), 400, errInvalidScope)
	r := e.do("POST", "/oauth/token", cc, "app", "app-secret")
	wantOAuthError(t, r, 429, errSlowDown)
	if r.header.Get("Retry-After") != "20" || r.body["error_description"] == nil {
		t.Fatalf("429: Retry-After %q, body %s", r.header.Get("Retry-After"), r.raw)
	}
	e.clock.Advance(19 * time.Second)
	wantOAuthError(t, e.do("POST", "/oauth/token", cc, "app", "app-secret"), 429, errSlowDown)
	e.clock.Advance(time.Second)
	e.token("app", "app-secret", nil)
	wantOAuthError(t, e.do("POST", "/oauth/token", cc, "app", "app-secret"), 429, errSlowDown)
	// Token exchange is an issuance too.
	e.clock.Advance(20 * time.Second)
	subject := e.token("app", "app-secret", nil)
	x := url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {subject}, "subject_token_type": {TokenTypeAccessToken}}
	wantOAuthError(t, e.do("POST", "/oauth/token", x, "app", "app-secret"), 429, errSlowDown)
	// Other clients have their own buckets: the default (5) and off.
	for range 5 {
		e.token("lan", "lan-secret", nil)
	}
	wantOAuthError(t, e.do("POST", "/oauth/token", cc, "lan", "lan-secret"), 429, errSlowDown)
	for range 50 {
		e.token("other", "other-secret", nil)
	}
	// A long pause refills to the burst size, not beyond.
	e.clock.Advance(time.Hour)
	for range 5 {
		e.token("lan", "lan-secret", nil)
	}
	wantOAuthError(t, e.do("POST", "/oauth/token", cc, "lan", "lan-secret"), 429, errSlowDown)
}

// Without any rate_limit, DefaultRateLimit applies.
func TestDefaultIssuanceRateLimit(t *testing.T) {
	e := newEnv(t, nil)
	for range DefaultRateLimit.N {
		e.token("other", "other-secret", nil)
	}
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "other", "other-secret"), 429, errSlowDown)
}
