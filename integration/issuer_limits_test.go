package integration

import (
	"net/url"
	"path/filepath"
	"testing"
)

// Through a real Caddy: a client's rate_limit refuses issuance beyond it
// with 429, Retry-After and an RFC 6749 JSON body with no-store; a slow-hash
// client's wrong secret is 401 in the same shape.
func TestIssuerRateLimitEndToEnd(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "a.db")
	tester := issStart(t, issCaddyfile(db, `client limited {
			secret limited-secret
			rate_limit 2/1h
		}
		client slow {
			secret_hash $argon2id$v=19$m=8192,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MVAaizvK46UCka3zeyeD0zOSx+f+9MAWWuyq/jc/jp4
		}`))
	c := tester.Client
	cc := url.Values{"grant_type": {"client_credentials"}}
	issToken(t, c, "limited", "limited-secret", nil)
	issToken(t, c, "limited", "limited-secret", nil)
	r := issPost(t, c, issTokenURL, cc, "limited", "limited-secret")
	if r.status != 429 || r.body["error"] != "slow_down" || r.header.Get("Retry-After") != "1800" ||
		r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("beyond rate_limit: %d %v %s", r.status, r.header, r.raw)
	}
	// Other clients are not affected.
	issToken(t, c, "app", "app-secret", nil)
	issToken(t, c, "slow", "s3cret-value", nil)
	r = issPost(t, c, issTokenURL, cc, "slow", "wrong")
	if r.status != 401 || r.body["error"] != "invalid_client" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("wrong slow secret: %d %v %s", r.status, r.header, r.raw)
	}
}
