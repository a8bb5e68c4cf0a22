package module

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestIssuerStrongAuthCaddyfile(t *testing.T) {
	in := `authgate_issuer {
		issuer https://a
		client_cert_header Client-Cert
		client partner {
			auth_method private_key_jwt
			jwks_uri https://partner.example.com/jwks.json
			key /etc/authgate/partner-cert.pem k1
			key /etc/authgate/partner-2.pem
			allowed_kids k1 k2
			validate_jti off
		}
		client device-17 {
			auth_method tls_client_auth
			tls_client_auth subject_dn "CN=device-17,O=Example"
			certificate_bound_tokens
		}
		client hmac {
			auth_method client_secret_jwt
			secret {env.HMAC}
			signing_alg RS256
		}
	}`
	var h IssuerHandler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	p, d, m := h.Clients[0], h.Clients[1], h.Clients[2]
	if h.ClientCertHeader != "Client-Cert" || p.JWKSURI != "https://partner.example.com/jwks.json" || len(p.Keys) != 2 ||
		p.Keys[0] != (IssuerClientKey{File: "/etc/authgate/partner-cert.pem", KID: "k1"}) || p.Keys[1].KID != "" ||
		strings.Join(p.AllowedKids, ",") != "k1,k2" || p.ValidateJTI == nil || *p.ValidateJTI {
		t.Fatalf("partner %+v", p)
	}
	if d.TLSClientAuth == nil || *d.TLSClientAuth != (IssuerTLSClientAuth{Attribute: "subject_dn", Value: "CN=device-17,O=Example"}) || !d.CertificateBoundTokens || len(d.Secrets) != 0 {
		t.Fatalf("device %+v", d)
	}
	if len(m.Secrets) != 1 || m.Secrets[0].Value != "{env.HMAC}" || m.SigningAlg != "RS256" {
		t.Fatalf("hmac %+v", m)
	}
}

func TestIssuerStrongAuthCaddyfileErrors(t *testing.T) {
	wrap := func(body string) string {
		return "authgate_issuer {\nissuer https://a\nclient a {\n" + body + "\n}\n}"
	}
	wantIssuerCaddyfileErrors(t, map[string]string{
		"key without file":        wrap("auth_method private_key_jwt\nkey"),
		"key three args":          wrap("auth_method private_key_jwt\nkey a b c"),
		"jwks_uri two":            wrap("auth_method private_key_jwt\njwks_uri a b"),
		"dup jwks_uri":            wrap("auth_method private_key_jwt\njwks_uri a\njwks_uri b"),
		"allowed_kids empty":      wrap("auth_method private_key_jwt\njwks_uri a\nallowed_kids"),
		"validate_jti yes":        wrap("auth_method private_key_jwt\njwks_uri a\nvalidate_jti yes"),
		"tls attr unknown":        wrap("auth_method tls_client_auth\ntls_client_auth cn device"),
		"tls one arg":             wrap("auth_method tls_client_auth\ntls_client_auth san_dns"),
		"tls bad ip":              wrap("auth_method tls_client_auth\ntls_client_auth san_ip 300.1.1.1"),
		"tls bad dn":              wrap("auth_method tls_client_auth\ntls_client_auth subject_dn CN"),
		"dup tls_client_auth":     wrap("auth_method tls_client_auth\ntls_client_auth san_dns a\ntls_client_auth san_dns b"),
		"signing_alg none":        wrap("secret x\nsigning_alg none"),
		"dup signing_alg":         wrap("secret x\nsigning_alg RS256\nsigning_alg RS384"),
		"bound arg":               wrap("secret x\ncertificate_bound_tokens yes"),
		"secret_jwt no secret":    wrap("auth_method client_secret_jwt"),
		"basic and pk, no secret": wrap("auth_method client_secret_basic private_key_jwt\njwks_uri a"),
		"bad cert header":         "authgate_issuer {\nissuer https://a\nclient_cert_header Client:Cert\n}",
		"cert header two":         "authgate_issuer {\nissuer https://a\nclient_cert_header A B\n}",
	})
	var g Gateway
	if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser("authgate {\nissuer https://a\nclient_cert_header X_Y\n}")); err == nil || !strings.Contains(err.Error(), "Testfile:") {
		t.Errorf("gateway client_cert_header: %v", err)
	}
}
