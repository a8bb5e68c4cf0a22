package issuer

import (
	"net/url"
	"testing"
)

// Token exchange answers the same body for another client's valid token as
// for a revoked, garbage or foreign one: the answer is no oracle for which
// tokens are valid.
func TestTokenExchangeOneDescription(t *testing.T) {
	e := newEnv(t, nil)
	others := e.token("app", "app-secret", nil)  // app's valid token, presented by opq
	revoked := e.token("opq", "opq-secret", nil) // opq's own, revoked
	e.do("POST", "/oauth/revoke", url.Values{"token": {revoked}}, "opq", "opq-secret")
	bodies := map[string]string{}
	for name, subject := range map[string]string{
		"another client's valid token": others,
		"revoked":                      revoked,
		"garbage":                      "a.b.c",
		"unknown opaque":               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	} {
		f := url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {subject}, "subject_token_type": {TokenTypeAccessToken}}
		r := e.do("POST", "/oauth/token", f, "opq", "opq-secret")
		wantOAuthError(t, r, 400, errInvalidRequest)
		bodies[name] = r.raw
	}
	want := bodies["garbage"]
	for name, b := range bodies {
		if b != want {
			t.Errorf("%s: %q differs from %q", name, b, want)
		}
	}
}
