package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"testing"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/token"
)

// A certificate-bound token (an external provider's, as Keycloak issues
// them) is accepted only with its certificate, cached or not.
func TestCertificateBoundToken(t *testing.T) {
	s, set := ecFixture(t)
	g := newGateway(t, set, func(c *Config) { c.Cache = NewCache(100) })
	ca := testutil.NewCA(t, "ca")
	mine := ca.Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "svc"}})
	other := ca.Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "svc"}})
	tok := s.sign(t, baseClaims(map[string]any{"cnf": map[string]any{"x5t#S256": token.CertThumbprint(mine.Cert.Raw)}}))
	withCert := func(l *testutil.Leaf) *http.Request {
		r := request(tok)
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
		if l != nil {
			r.TLS.PeerCertificates = []*x509.Certificate{l.Cert}
		}
		return r
	}
	for round := 0; round < 2; round++ { // the second round is served from the cache
		d, e := g.Authorize(withCert(mine), loopback)
		if e != nil || d.Cached != (round == 1) {
			t.Fatalf("round %d with its certificate: %v cached=%v", round, e, d.Cached)
		}
		for name, r := range map[string]*http.Request{
			"plain http":        request(tok),
			"no certificate":    withCert(nil),
			"other certificate": withCert(other),
			"forwarded other":   token.WithForwardedCertificate(withCert(mine), &token.PeerCertificate{Cert: other.Cert, Verified: true}),
			"forwarded none":    token.WithForwardedCertificate(withCert(mine), nil),
		} {
			_, e := g.Authorize(r, loopback)
			if e == nil || e.Status != 401 || e.Code != "invalid_token" || e.Reason != ReasonCertificateBinding {
				t.Fatalf("round %d, %s: %+v", round, name, e)
			}
		}
	}
	if _, e := g.Authorize(token.WithForwardedCertificate(request(tok), &token.PeerCertificate{Cert: mine.Cert, Verified: true}), loopback); e != nil {
		t.Fatalf("forwarded by a trusted proxy: %v", e)
	}
	// A cnf the gateway cannot check is refused; a bearer token is not
	// affected by a certificate.
	for _, cnf := range []any{map[string]any{"jwk": map[string]any{"kty": "EC"}}, map[string]any{}} {
		if _, e := g.Authorize(withCertTok(s.sign(t, baseClaims(map[string]any{"cnf": cnf})), mine), loopback); e == nil || e.Reason != ReasonUnknownBinding {
			t.Fatalf("cnf %v: %+v", cnf, e)
		}
	}
	for _, cnf := range []any{"x", 1, []any{}, map[string]any{"x5t#S256": 7}} {
		if _, e := g.Authorize(withCertTok(s.sign(t, baseClaims(map[string]any{"cnf": cnf})), mine), loopback); e == nil || e.Status != 401 {
			t.Fatalf("malformed cnf %v: %+v", cnf, e)
		}
	}
	if _, e := g.Authorize(withCertTok(s.sign(t, baseClaims(nil)), other), loopback); e != nil {
		t.Fatalf("bearer token over mTLS: %v", e)
	}
}

func withCertTok(tok string, l *testutil.Leaf) *http.Request {
	r := request(tok)
	r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{l.Cert}}
	return r
}
