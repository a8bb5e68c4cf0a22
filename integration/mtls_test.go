package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/token"
)

// Mutual TLS end to end: a real Caddy terminates TLS with `client_auth`,
// the issuer authenticates clients by their certificates (RFC 8705) and
// binds their tokens to them, and the gateway accepts a bound token only
// from a connection with that certificate. Site A (9651) verifies client
// certificates against the clients' CA and hosts the issuer and an API;
// site B (9652) is a TLS-terminating proxy in front of it that forwards
// the client certificate in the RFC 9440 Client-Cert header.
const (
	mtA      = "https://localhost:9651"
	mtB      = "https://localhost:9652"
	mtTokenA = mtA + "/oauth/token"
	mtTokenB = mtB + "/oauth/token"
)

type mtFixture struct {
	dir                       string
	serverCA, clientsCA, evil *testutil.CA
	server                    *testutil.Leaf
	good, bad                 *testutil.Leaf // clients CA: every attribute right / wrong
	foreign                   *testutil.Leaf // another CA, the good attributes
	kiosk, stranger           *testutil.Leaf // self-signed
}

func mtNewFixture(t *testing.T) *mtFixture {
	f := &mtFixture{dir: t.TempDir(), serverCA: testutil.NewCA(t, "server CA"), clientsCA: testutil.NewCA(t, "clients CA"), evil: testutil.NewCA(t, "other CA")}
	f.server = f.serverCA.Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "localhost"}, DNS: []string{"localhost"}, IPs: []string{"127.0.0.1", "::1"}, Server: true})
	goodOpts := testutil.CertOptions{
		Subject: pkix.Name{CommonName: "device-17", Organization: []string{"Example"}},
		DNS:     []string{"device-17.iot.example.com"}, URIs: []string{"spiffe://example.com/device/17"},
		IPs: []string{"192.0.2.17"}, Emails: []string{"device-17@example.com"},
	}
	f.good = f.clientsCA.Issue(t, goodOpts)
	f.bad = f.clientsCA.Issue(t, testutil.CertOptions{
		Subject: pkix.Name{CommonName: "device-18", Organization: []string{"Example"}},
		DNS:     []string{"device-18.iot.example.com"}, URIs: []string{"spiffe://example.com/device/18"},
		IPs: []string{"192.0.2.18"}, Emails: []string{"device-18@example.com"},
	})
	f.foreign = f.evil.Issue(t, goodOpts)
	f.kiosk = (*testutil.CA)(nil).Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "kiosk"}})
	f.stranger = (*testutil.CA)(nil).Issue(t, testutil.CertOptions{Subject: pkix.Name{CommonName: "kiosk"}})
	f.server.WriteFiles(t, f.dir, "server")
	f.kiosk.WriteFiles(t, f.dir, "kiosk")
	write := func(name string, data ...[]byte) {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(strings.Join(func() []string {
			var s []string
			for _, d := range data {
				s = append(s, string(d))
			}
			return s
		}(), "")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("clients-ca.pem", f.clientsCA.CertPEM())
	write("server-ca.pem", f.serverCA.CertPEM())
	// The proxy in front accepts the clients' CA and the kiosk's own
	// certificate (a self-signed certificate is its own trust anchor).
	write("proxy-trust.pem", f.clientsCA.CertPEM(), f.kiosk.CertPEM())
	return f
}

func (f *mtFixture) caddyfile(db, extraClients string) string {
	p := func(name string) string { return filepath.Join(f.dir, name) }
	return fmt.Sprintf(`{
	skip_install_trust
	admin localhost:2999
	http_port 9650
	auto_https disable_redirects
	servers {
		trusted_proxies static 127.0.0.1/32
	}
	authgate {
		storage bolt %[1]s
	}
}
%[2]s {
	tls %[3]s %[4]s {
		client_auth {
			mode verify_if_given
			trust_pool file %[5]s
		}
	}
	authgate_issuer {
		issuer %[2]s
		client_cert_header Client-Cert
		client dev-dns {
			auth_method tls_client_auth
			tls_client_auth san_dns device-17.iot.example.com
			certificate_bound_tokens
		}
		client dev-uri {
			auth_method tls_client_auth
			tls_client_auth san_uri spiffe://example.com/device/17
		}
		client dev-ip {
			auth_method tls_client_auth
			tls_client_auth san_ip 192.0.2.17
		}
		client dev-email {
			auth_method tls_client_auth
			tls_client_auth san_email device-17@example.com
		}
		client dev-dn {
			auth_method tls_client_auth
			tls_client_auth subject_dn "CN=device-17,O=Example"
			token_format opaque
			certificate_bound_tokens
		}
		client kiosk {
			auth_method self_signed_tls_client_auth
			key %[6]s
			certificate_bound_tokens
		}
		client app {
			secret app-secret
		}
%[8]s
	}
	route /api/* {
		authgate {
			issuer %[2]s
			client_cert_header Client-Cert
		}
		respond "client={http.auth.user.client_id}"
	}
}
%[7]s {
	tls %[3]s %[4]s {
		client_auth {
			mode require_and_verify
			trust_pool file %[9]s
		}
	}
	reverse_proxy https://127.0.0.1:9651 {
		header_up Host localhost
		header_up Client-Cert ":{http.request.tls.client.certificate_der_base64}:"
		transport http {
			tls_server_name localhost
			tls_trust_pool file %[10]s
		}
	}
}
`, db, mtA, p("server-cert.pem"), p("server-key.pem"), p("clients-ca.pem"), p("kiosk-cert.pem"), mtB, extraClients,
		p("proxy-trust.pem"), p("server-ca.pem"))
}

// client is an HTTPS client presenting leaf (nil: no certificate), dialing
// over IPv4 from local (default 127.0.0.2: only the proxy, at 127.0.0.1, is
// in trusted_proxies).
func (f *mtFixture) client(leaf *testutil.Leaf, local string) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(f.serverCA.Cert)
	cfg := &tls.Config{RootCAs: roots}
	if leaf != nil {
		// Always send it, whatever CAs the server says it accepts.
		c := leaf.TLS()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	if local == "" {
		local = "127.0.0.2"
	}
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp4", addr) }
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DialContext: dial}}
}

// mtToken asks for a client_credentials token as client id over c; err is
// a transport (handshake) error.
func mtToken(c *http.Client, u, id string, hdr http.Header) (status int, body map[string]any, err error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	r := mtRead(res)
	return r.status, r.body, nil
}

func mtRead(res *http.Response) issResp {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	out := issResp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

func mtAPI(t *testing.T, c *http.Client, u, tok string, hdr http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u+"/api/orders", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	r := mtRead(res)
	return r.status, r.raw
}

func TestMutualTLSEndToEnd(t *testing.T) {
	useInProcessCaddy(t)
	f := mtNewFixture(t)
	caddytest.NewTester(t).InitServer(f.caddyfile(filepath.Join(t.TempDir(), "a.db"), ""), "caddyfile")
	good, bad, none := f.client(f.good, ""), f.client(f.bad, ""), f.client(nil, "")

	// Each attribute: the matching certificate authenticates, the other
	// certificate of the same CA and no certificate do not.
	for _, id := range []string{"dev-dns", "dev-uri", "dev-ip", "dev-email", "dev-dn"} {
		if st, body, err := mtToken(good, mtTokenA, id, nil); err != nil || st != 200 {
			t.Fatalf("%s with its certificate: %d %v %v", id, st, body, err)
		}
		for name, c := range map[string]*http.Client{"other certificate": bad, "no certificate": none} {
			if st, body, err := mtToken(c, mtTokenA, id, nil); err != nil || st != 401 || body["error"] != "invalid_client" {
				t.Fatalf("%s, %s: %d %v %v", id, name, st, body, err)
			}
		}
	}
	// Another CA's certificate and a self-signed one fail the handshake.
	for name, leaf := range map[string]*testutil.Leaf{"other CA": f.foreign, "self-signed": f.kiosk} {
		if st, _, err := mtToken(f.client(leaf, ""), mtTokenA, "dev-dns", nil); err == nil {
			t.Fatalf("%s: handshake accepted (%d)", name, st)
		}
	}

	// Bound tokens: the JWT and the opaque token carry the certificate's
	// thumbprint and work only with that certificate.
	thumb := token.CertThumbprint(f.good.Cert.Raw)
	_, body, _ := mtToken(good, mtTokenA, "dev-dns", nil)
	jwtTok := body["access_token"].(string)
	if _, claims := issClaims(t, jwtTok); claims["cnf"].(map[string]any)["x5t#S256"] != thumb {
		t.Fatalf("cnf %v", claims["cnf"])
	}
	_, body, _ = mtToken(good, mtTokenA, "dev-dn", nil)
	opaque := body["access_token"].(string)
	_, body, _ = mtToken(good, mtTokenA, "dev-uri", nil)
	bearer := body["access_token"].(string)
	for _, tok := range []string{jwtTok, opaque} {
		if st, raw := mtAPI(t, good, mtA, tok, nil); st != 200 {
			t.Fatalf("bound token with its certificate: %d %s", st, raw)
		}
		for name, c := range map[string]*http.Client{"no certificate": none, "another certificate": bad} {
			if st, raw := mtAPI(t, c, mtA, tok, nil); st != 401 {
				t.Fatalf("bound token, %s: %d %s", name, st, raw)
			}
		}
		// A forged Client-Cert from a peer that is not a trusted proxy is
		// removed, not believed.
		forged := http.Header{"Client-Cert": {":" + base64.StdEncoding.EncodeToString(f.good.Cert.Raw) + ":"}}
		if st, raw := mtAPI(t, none, mtA, tok, forged); st != 401 {
			t.Fatalf("forged Client-Cert from an untrusted peer: %d %s", st, raw)
		}
	}
	if st, raw := mtAPI(t, bad, mtA, bearer, nil); st != 200 {
		t.Fatalf("unbound token with any certificate: %d %s", st, raw)
	}
	forged := http.Header{"Client-Cert": {":" + base64.StdEncoding.EncodeToString(f.good.Cert.Raw) + ":"}}
	if st, body, err := mtToken(none, mtTokenA, "dev-dns", forged); err != nil || st != 401 {
		t.Fatalf("forged Client-Cert at the issuer: %d %v %v", st, body, err)
	}

	// Through the proxy in front: the certificate arrives in Client-Cert.
	viaGood, viaKiosk := f.client(f.good, ""), f.client(f.kiosk, "")
	if st, body, err := mtToken(viaGood, mtTokenB, "dev-email", nil); err != nil || st != 200 {
		t.Fatalf("tls_client_auth through the proxy: %d %v %v", st, body, err)
	}
	if st, raw := mtAPI(t, viaGood, mtB, jwtTok, nil); st != 200 {
		t.Fatalf("bound token through the proxy: %d %s", st, raw)
	}
	if st, raw := mtAPI(t, f.client(f.kiosk, ""), mtB, jwtTok, nil); st != 401 {
		t.Fatalf("bound token through the proxy with another certificate: %d %s", st, raw)
	}
	// self_signed_tls_client_auth: the registered certificate, through the
	// proxy; a stranger's self-signed certificate fails its handshake.
	st, body, err := mtToken(viaKiosk, mtTokenB, "kiosk", nil)
	if err != nil || st != 200 {
		t.Fatalf("kiosk: %d %v %v", st, body, err)
	}
	kioskTok := body["access_token"].(string)
	if st, raw := mtAPI(t, viaKiosk, mtB, kioskTok, nil); st != 200 {
		t.Fatalf("kiosk's bound token: %d %s", st, raw)
	}
	if st, raw := mtAPI(t, viaGood, mtB, kioskTok, nil); st != 401 {
		t.Fatalf("kiosk's token with another certificate: %d %s", st, raw)
	}
	if st, body, err := mtToken(viaGood, mtTokenB, "kiosk", nil); err != nil || st != 401 {
		t.Fatalf("kiosk with the CA's certificate: %d %v %v", st, body, err)
	}
	if _, _, err := mtToken(f.client(f.stranger, ""), mtTokenB, "kiosk", nil); err == nil {
		t.Fatal("stranger's self-signed certificate accepted by the proxy")
	}
	// The metadata says so.
	res, err := good.Get(mtA + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	md := mtRead(res)
	res.Body.Close()
	if md.body["tls_client_certificate_bound_access_tokens"] != true || !strings.Contains(md.raw, `"self_signed_tls_client_auth"`) {
		t.Fatalf("metadata %s", md.raw)
	}
}
