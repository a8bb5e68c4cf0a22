package issuer

import (
	"net/url"
	"strings"
	"testing"
)

// A client whose tokens must be sender-constrained (dpop required, or
// certificate_bound_tokens) never gets a plain Bearer token from the
// authorization endpoint: the implicit response has no proof or
// certificate to bind it to, so it is refused (unauthorized_client).
func TestImplicitRefusesSenderConstrainedClients(t *testing.T) {
	for name, mutate := range map[string]func(*ClientConfig){
		"dpop required":            func(c *ClientConfig) { c.DPoP = DPoPRequired },
		"certificate_bound_tokens": func(c *ClientConfig) { c.CertificateBoundTokens = true },
	} {
		t.Run(name, func(t *testing.T) {
			e := newSignInEnv(t, func(c *Config) {
				for i := range c.Clients {
					if c.Clients[i].ID == "spa" {
						mutate(&c.Clients[i])
					}
				}
			})
			frag, _ := url.ParseQuery(e.implicitAsAlice(t).Fragment)
			if frag.Get("access_token") != "" || frag.Get("error") != errUnauthorizedClient {
				t.Fatalf("implicit response of a sender-constrained client: %v", frag)
			}
		})
	}
}

// implicitAsAlice runs the spa client's implicit request as alice (signing
// in and consenting as asked) and returns the redirect.
func (e *signInEnv) implicitAsAlice(t *testing.T) *url.URL {
	t.Helper()
	p := e.get(t, "/oauth/authorize?"+authzQuery(map[string]string{"client_id": "spa", "response_type": "token", "scope": "read",
		"code_challenge": "", "code_challenge_method": ""}))
	if strings.Contains(p.body, `name="password"`) {
		p = e.login(t, p, "alice", "alice-pw")
	}
	if strings.Contains(p.body, `value="allow"`) {
		p = e.post(t, "/oauth/consent", url.Values{"csrf": {p.hidden("csrf")}, "request": {p.hidden("request")}, "decision": {"allow"}})
	}
	return p.location(t)
}
