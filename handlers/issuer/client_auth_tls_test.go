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
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/token"
)

func TestCertMatcher(t *testing.T) {
	ca := testutil.NewCA(t, "test CA")
	leaf := ca.Issue(t, testutil.CertOptions{
		Subject: pkix.Name{CommonName: "device-17", Organization: []string{"Example"}, OrganizationalUnit: []string{"IoT, Fleet"}},
		DNS:     []string{"device-17.iot.example.com"}, URIs: []string{"spiffe://example.com/device/17"},
		IPs: []string{"192.0.2.17", "2001:db8::17"}, Emails: []string{"ops@Example.COM"},
	}).Cert
	for _, tc := range []struct {
		attr, value string
		want        bool
	}{
		{CertSANDNS, "device-17.iot.example.com", true},
		{CertSANDNS, "DEVICE-17.iot.example.com", true},
		{CertSANDNS, "device-18.iot.example.com", false},
		{CertSANDNS, "*.iot.example.com", false},
		{CertSANURI, "spiffe://example.com/device/17", true},
		{CertSANURI, "spiffe://example.com/device/1", false},
		{CertSANURI, "SPIFFE://example.com/device/17", false},
		{CertSANIP, "192.0.2.17", true},
		{CertSANIP, "::ffff:192.0.2.17", true},
		{CertSANIP, "2001:db8:0::17", true},
		{CertSANIP, "192.0.2.18", false},
		{CertSANEmail, "ops@example.com", true},
		{CertSANEmail, "OPS@example.com", false},
		{CertSANEmail, "dev@example.com", false},
		{CertSubjectDN, `CN=device-17,OU=IoT\, Fleet,O=Example`, true},
		{CertSubjectDN, `cn=Device-17, ou=IoT\2C Fleet,  o=example`, true},
		{CertSubjectDN, `2.5.4.3=device-17,OU=IoT\, Fleet,O=Example`, true},
		{CertSubjectDN, `CN=device-17,O=Example`, false},
		{CertSubjectDN, `O=Example,OU=IoT\, Fleet,CN=device-17`, false},
		{CertSubjectDN, `CN=device-17,OU=IoT\, Fleet,O=Example,C=DE`, false},
		{CertSubjectDN, `CN=device-1,OU=IoT\, Fleet,O=Example`, false},
	} {
		m, err := newCertMatcher(tc.attr, tc.value)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.attr, tc.value, err)
		}
		if got := m.matches(leaf); got != tc.want {
			t.Errorf("%s %q: matches=%v, want %v", tc.attr, tc.value, got, tc.want)
		}
	}
	for _, bad := range [][2]string{
		{"san_ip", "not-an-ip"}, {"san_ip", "fe80::1%eth0"}, {"subject", "CN=x"}, {CertSubjectDN, "CN"},
		{CertSubjectDN, "CN=a,"}, {CertSubjectDN, "FOO=a"}, {CertSubjectDN, "CN=#0403"}, {CertSubjectDN, `CN=a\`},
		{CertSubjectDN, `CN=a\q`}, {CertSANDNS, ""}, {CertSubjectDN, strings.Repeat("CN=a,", 1000) + "CN=a"},
	} {
		if _, err := newCertMatcher(bad[0], bad[1]); err == nil {
			t.Errorf("%s %q accepted", bad[0], bad[1])
		}
	}
}

// tlsFixture has a CA, the clients that authenticate with its certificates
// or with a self-signed one, and an issuer that knows them.
type tlsFixture struct {
	e                          *testEnv
	ca, otherCA                *testutil.CA
	device, wrongName, foreign *testutil.Leaf
	selfSigned, strangerSelf   *testutil.Leaf
}

func newTLSFixture(t *testing.T) *tlsFixture {
	f := &tlsFixture{ca: testutil.NewCA(t, "clients CA"), otherCA: testutil.NewCA(t, "other CA")}
	f.device = f.ca.Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "device-17", Organization: []string{"Example"}}, DNS: []string{"device-17.iot.example.com"}})
	f.wrongName = f.ca.Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "device-18"}, DNS: []string{"device-18.iot.example.com"}})
	f.foreign = f.otherCA.Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "device-17", Organization: []string{"Example"}}, DNS: []string{"device-17.iot.example.com"}})
	f.selfSigned = (*testutil.CA)(nil).Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "kiosk"}})
	f.strangerSelf = (*testutil.CA)(nil).Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "kiosk"}})
	f.e = newEnv(t, func(c *Config) {
		c.Clients = append(c.Clients,
			ClientConfig{ID: "device-17", AuthMethods: []string{AuthTLSClientAuth}, Scopes: []string{"read"},
				StrongAuth: StrongAuth{TLSClientAuth: &TLSClientAuthMatch{CertSANDNS, "device-17.iot.example.com"}, CertificateBoundTokens: true}},
			ClientConfig{ID: "device-dn", AuthMethods: []string{AuthTLSClientAuth}, TokenFormat: FormatOpaque,
				StrongAuth: StrongAuth{TLSClientAuth: &TLSClientAuthMatch{CertSubjectDN, "CN=device-17,O=Example"}, CertificateBoundTokens: true}},
			ClientConfig{ID: "kiosk", AuthMethods: []string{AuthSelfSignedTLSClientAuth},
				StrongAuth: StrongAuth{Keys: []ClientKey{{Data: f.selfSigned.CertPEM(), Source: "kiosk.pem"}}}},
			ClientConfig{ID: "bound-secret", Secrets: []SecretConfig{{Plain: "bs"}}, StrongAuth: StrongAuth{CertificateBoundTokens: true}},
		)
	})
	// The certificates are valid around the wall clock's now.
	f.e.clock.mu.Lock()
	f.e.clock.t = time.Now()
	f.e.clock.mu.Unlock()
	return f
}

// request is a token request over a TLS connection presenting leaf (nil:
// none); verified says whether a trust pool verified it.
func (f *tlsFixture) request(leaf *testutil.Leaf, verified bool, form url.Values) *http.Request {
	path := "/oauth/token"
	if form.Has("token") {
		path = "/oauth/introspect"
	}
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	if leaf != nil {
		r.TLS.PeerCertificates = []*x509.Certificate{leaf.Cert}
		if verified {
			r.TLS.VerifiedChains = [][]*x509.Certificate{{leaf.Cert}}
		}
	}
	return r
}

func ccForm(id string) url.Values {
	return url.Values{"grant_type": {GrantClientCredentials}, "client_id": {id}}
}

func TestTLSClientAuth(t *testing.T) {
	f := newTLSFixture(t)
	r := f.e.serve(f.request(f.device, true, ccForm("device-17")))
	if r.status != 200 {
		t.Fatalf("device: %d %s", r.status, r.raw)
	}
	_, claims := decodeJWT(t, r.body["access_token"].(string))
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["x5t#S256"] != token.CertThumbprint(f.device.Cert.Raw) {
		t.Fatalf("cnf %v", claims["cnf"])
	}
	if r.body["token_type"] != "Bearer" {
		t.Fatalf("token_type %v", r.body["token_type"])
	}
	// The client introspects its own token over mTLS: the binding is
	// reported.
	ir := f.e.serve(f.request(f.device, true, url.Values{"client_id": {"device-17"}, "token": {r.body["access_token"].(string)}}))
	ireq := ir.body
	if cnf, _ := ireq["cnf"].(map[string]any); ireq["active"] != true || cnf["x5t#S256"] != token.CertThumbprint(f.device.Cert.Raw) {
		t.Fatalf("introspection: %s", ir.raw)
	}
	for name, req := range map[string]*http.Request{
		"wrong SAN":       f.request(f.wrongName, true, ccForm("device-17")),
		"not verified":    f.request(f.device, false, ccForm("device-17")),
		"other CA":        f.request(f.foreign, false, ccForm("device-17")),
		"no certificate":  f.request(nil, false, ccForm("device-17")),
		"self-signed":     f.request(f.selfSigned, false, ccForm("device-17")),
		"unknown client":  f.request(f.device, true, ccForm("nobody")),
		"no client_id":    f.request(f.device, true, url.Values{"grant_type": {GrantClientCredentials}}),
		"DN of device-18": f.request(f.wrongName, true, ccForm("device-dn")),
		"kiosk stranger":  f.request(f.strangerSelf, false, ccForm("kiosk")),
		"kiosk by the CA": f.request(f.device, true, ccForm("kiosk")),
		"secret client":   f.request(f.device, true, ccForm("app")),
		"kiosk no cert":   f.request(nil, false, ccForm("kiosk")),
	} {
		t.Run(name, func(t *testing.T) {
			wantOAuthError(t, f.e.serve(req), http.StatusUnauthorized, errInvalidClient)
		})
	}
	// The subject DN client gets an opaque token, bound too.
	r = f.e.serve(f.request(f.device, true, ccForm("device-dn")))
	if r.status != 200 {
		t.Fatalf("device-dn: %d %s", r.status, r.raw)
	}
	rec, err := f.e.store.GetToken(t.Context(), f.e.iss.opaqueHash(r.body["access_token"].(string)))
	if err != nil || rec.CnfX5TS256 != token.CertThumbprint(f.device.Cert.Raw) {
		t.Fatalf("opaque record %+v %v", rec, err)
	}
	c, err := f.e.iss.LookupOpaque(t.Context(), r.body["access_token"].(string))
	if err != nil || c.Cnf == nil || c.Cnf.X5TS256 != rec.CnfX5TS256 {
		t.Fatalf("LookupOpaque cnf: %+v %v", c, err)
	}
	// Self-signed: the registered certificate.
	if r := f.e.serve(f.request(f.selfSigned, false, ccForm("kiosk"))); r.status != 200 {
		t.Fatalf("kiosk: %d %s", r.status, r.raw)
	}
	// ... while it is valid.
	f.e.clock.Advance(48 * time.Hour)
	wantOAuthError(t, f.e.serve(f.request(f.selfSigned, false, ccForm("kiosk"))), http.StatusUnauthorized, errInvalidClient)
}

func TestCertificateBoundSecretClient(t *testing.T) {
	f := newTLSFixture(t)
	req := f.request(f.wrongName, false, url.Values{"grant_type": {GrantClientCredentials}})
	req.SetBasicAuth("bound-secret", "bs")
	r := f.e.serve(req)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	_, claims := decodeJWT(t, r.body["access_token"].(string))
	if cnf, _ := claims["cnf"].(map[string]any); cnf["x5t#S256"] != token.CertThumbprint(f.wrongName.Cert.Raw) {
		t.Fatalf("cnf %v", claims["cnf"])
	}
	intro := f.e.introspect(r.body["access_token"].(string), "bound-secret", "bs")
	if cnf, _ := intro["cnf"].(map[string]any); cnf["x5t#S256"] != token.CertThumbprint(f.wrongName.Cert.Raw) {
		t.Fatalf("introspection cnf %v", intro)
	}
	// Without a certificate: no token rather than an unbound one.
	req = f.request(nil, false, url.Values{"grant_type": {GrantClientCredentials}})
	req.SetBasicAuth("bound-secret", "bs")
	wantOAuthError(t, f.e.serve(req), http.StatusBadRequest, errInvalidRequest)
	// A client without binding gets a bearer token over mTLS too.
	req = f.request(f.device, true, url.Values{"grant_type": {GrantClientCredentials}})
	req.SetBasicAuth("app", "app-secret")
	r = f.e.serve(req)
	if _, claims := decodeJWT(t, r.body["access_token"].(string)); claims["cnf"] != nil {
		t.Fatalf("unbound client got cnf %v", claims["cnf"])
	}
}

// A certificate forwarded by a trusted proxy (the module decides trust)
// replaces the connection's.
func TestForwardedCertificate(t *testing.T) {
	f := newTLSFixture(t)
	req := f.request(f.wrongName, true, ccForm("device-17"))
	req = token.WithForwardedCertificate(req, &token.PeerCertificate{Cert: f.device.Cert, Verified: true, Forwarded: true})
	if r := f.e.serve(req); r.status != 200 {
		t.Fatalf("forwarded: %d %s", r.status, r.raw)
	}
	req = token.WithForwardedCertificate(f.request(f.device, true, ccForm("device-17")), nil)
	wantOAuthError(t, f.e.serve(req), http.StatusUnauthorized, errInvalidClient)
}
