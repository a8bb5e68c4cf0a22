package issuer

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzClientAssertion feeds hostile client assertions through the JWT
// methods (peek, then full verification with a real key set and the replay
// store): nothing panics, and nothing but a correctly signed assertion of a
// client authenticates.
func FuzzClientAssertion(f *testing.F) {
	k := newJWTKeys(f)
	e := newEnv(f, withJWTClients(f, k))
	valid := e.assertion(f, k.ec, "ES256", "", "pk-ec", nil)
	f.Add(valid)
	f.Add(e.assertion(f, []byte(hmacSecretValue), "HS256", "", "hs", nil))
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJway1lYyJ9.")
	f.Add("a.b.c")
	f.Add(strings.Repeat(".", 40))
	f.Fuzz(func(t *testing.T, a string) {
		form := url.Values{"client_assertion_type": {ClientAssertionTypeJWT}, "client_assertion": {a}}
		r := httptest.NewRequest("POST", "/oauth/token", nil)
		for _, m := range []clientAuthMethod{privateKeyJWT{}, clientSecretJWT{}} {
			cr, oe := m.present(r, form2(form))
			if oe != nil || cr == nil {
				continue
			}
			cr.ctx = context.Background()
			c := e.iss.clients.load().byID[cr.clientID]
			ok, _ := m.verify(e.iss, e.iss.clients.load(), c, cr, e.clock.Now())
			if ok && c == nil {
				t.Fatalf("unknown client %q authenticated", cr.clientID)
			}
		}
	})
}

func form2(v url.Values) form { return form{values: v} }
