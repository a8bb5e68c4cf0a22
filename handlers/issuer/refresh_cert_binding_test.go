package issuer

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/token"
)

// A public client with certificate_bound_tokens has no credential but its
// certificate: its refresh tokens are bound to the certificate of the code
// exchange (RFC 8705 §4), like a DPoP key binds them, so a stolen refresh
// token refreshes from no other certificate; the successor stays bound.
func TestPublicClientRefreshBoundToCertificate(t *testing.T) {
	e := peopleEnv(t, func(c *Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "mobile" {
				c.Clients[i].CertificateBoundTokens = true
			}
		}
	})
	mine := (*testutil.CA)(nil).Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "phone"}})
	thief := (*testutil.CA)(nil).Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "thief"}})
	post := func(leaf *testutil.Leaf, f url.Values) resp {
		f.Set("client_id", "mobile")
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{leaf.Cert}}
		return e.serve(r)
	}
	code := e.putCode(codeOpts{client: "mobile", scopes: []string{"openid", "read"}})
	r := post(mine, url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "code_verifier": {tokensVerifier},
		"redirect_uri": {"http://127.0.0.1/cb"}})
	if r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	refresh := func(leaf *testutil.Leaf, rt string) resp {
		return post(leaf, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}})
	}
	rt := str(r.body, "refresh_token")
	if got := refresh(thief, rt); got.status != 400 || got.body["error"] != errInvalidGrant {
		t.Fatalf("refresh from another certificate: %d %s", got.status, got.raw)
	}
	r = refresh(mine, rt)
	if r.status != 200 {
		t.Fatalf("refresh with the certificate: %d %s", r.status, r.raw)
	}
	if _, claims := decodeJWT(t, str(r.body, "access_token")); claims["cnf"].(map[string]any)["x5t#S256"] != token.CertThumbprint(mine.Cert.Raw) {
		t.Fatalf("refreshed access token's cnf: %v", claims["cnf"])
	}
	next := str(r.body, "refresh_token")
	if got := refresh(thief, next); got.status != 400 || got.body["error"] != errInvalidGrant {
		t.Fatalf("successor from another certificate: %d %s", got.status, got.raw)
	}
	if got := refresh(mine, next); got.status != 200 {
		t.Fatalf("successor with the certificate: %d %s", got.status, got.raw)
	}
}

// Userinfo holds a certificate-bound access token to its certificate.
func TestUserinfoRefusesCertificateBoundTokenElsewhere(t *testing.T) {
	e := peopleEnv(t, func(c *Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "mobile" {
				c.Clients[i].CertificateBoundTokens = true
			}
		}
	})
	mine := (*testutil.CA)(nil).Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "phone"}})
	thief := (*testutil.CA)(nil).Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "thief"}})
	withCert := func(r *http.Request, leaf *testutil.Leaf) *http.Request {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
		if leaf != nil {
			r.TLS.PeerCertificates = []*x509.Certificate{leaf.Cert}
		}
		return r
	}
	f := url.Values{"grant_type": {GrantAuthorizationCode}, "code": {e.putCode(codeOpts{client: "mobile", scopes: []string{"openid"}})},
		"code_verifier": {tokensVerifier}, "redirect_uri": {"http://127.0.0.1/cb"}, "client_id": {"mobile"}}
	r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tr := e.serve(withCert(r, mine))
	if tr.status != 200 {
		t.Fatalf("exchange: %d %s", tr.status, tr.raw)
	}
	call := func(leaf *testutil.Leaf) resp {
		req := httptest.NewRequest("GET", "/oauth/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+str(tr.body, "access_token"))
		return e.serve(withCert(req, leaf))
	}
	if got := call(nil); got.status != 401 {
		t.Errorf("without a certificate: %d %s", got.status, got.raw)
	}
	if got := call(thief); got.status != 401 {
		t.Errorf("with another certificate: %d %s", got.status, got.raw)
	}
	if got := call(mine); got.status != 200 || got.body["sub"] != "alice" {
		t.Errorf("with the certificate: %d %s", got.status, got.raw)
	}
}
