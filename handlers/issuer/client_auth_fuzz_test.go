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

// FuzzParseDN: a configured subject DN never panics the parser, and one
// it accepts has at least one RDN of attributes with known types.
func FuzzParseDN(f *testing.F) {
	for _, s := range []string{`CN=device-17,O=Example`, `cn=a+ou=b, o=c\, d`, `2.5.4.3=x`, `CN=\41\42`, `CN=#04`, `CN=a,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dn, err := parseDN(s)
		if err != nil {
			return
		}
		if len(dn) == 0 {
			t.Fatalf("%q: empty DN accepted", s)
		}
		for _, rdn := range dn {
			if len(rdn) == 0 {
				t.Fatalf("%q: empty RDN", s)
			}
		}
	})
}
