package module

import (
	"fmt"
	"os"

	"github.com/caddyserver/caddy/v2"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

// IssuerClientStrongAuth are a client's JWT (RFC 7523) and mutual-TLS (RFC
// 8705) authentication settings and its certificate binding.
type IssuerClientStrongAuth struct {
	// Keys verify private_key_jwt assertions and are the certificates
	// self_signed_tls_client_auth accepts: files with a PEM public key or
	// certificate, a JWK or a JWKS.
	Keys []IssuerClientKey `json:"keys,omitempty"`
	// JWKSURI is the client's JWKS URL, for the same uses as Keys: cached,
	// refetched on an unknown kid, at most 1 MiB; while it cannot be
	// fetched the client cannot authenticate with it.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// AllowedKids, when set, are the only key ids an assertion may be
	// signed with.
	AllowedKids []string `json:"allowed_kids,omitempty"`
	// ValidateJTI makes each assertion's jti single use until its exp
	// (through the store, atomic across instances). Default: true.
	ValidateJTI *bool `json:"validate_jti,omitempty"`
	// TLSClientAuth is the certificate attribute that tls_client_auth
	// matches: exactly one.
	TLSClientAuth *IssuerTLSClientAuth `json:"tls_client_auth,omitempty"`
	// CertificateBoundTokens binds the client's tokens to the client
	// certificate of the request that got them (cnf x5t#S256, RFC 8705
	// §3); a request without a certificate gets no token.
	CertificateBoundTokens bool `json:"certificate_bound_tokens,omitempty"`
	// SigningAlg signs this client's JWTs: ES256, ES384, RS256, RS384,
	// RS512, PS256, EdDSA, HS256, HS384 or HS512. Default: the issuer's
	// signing_alg. The issuer keeps and rotates a key per algorithm in use
	// and publishes every asymmetric one in its JWKS.
	SigningAlg string `json:"signing_alg,omitempty"`
}

// IssuerClientKey is one key file of a client.
type IssuerClientKey struct {
	// File is the path of a PEM public key or certificate, a JWK or a JWKS.
	File string `json:"file,omitempty"`
	// KID names a single key that has none, e.g. the friendly name of an
	// X.509 certificate. Default: the JWK's kid, none for PEM.
	KID string `json:"kid,omitempty"`
}

// IssuerTLSClientAuth is the certificate attribute tls_client_auth matches.
type IssuerTLSClientAuth struct {
	// Attribute is subject_dn, san_dns, san_uri, san_ip or san_email.
	Attribute string `json:"attribute,omitempty"`
	// Value is the expected value, compared as RFC 8705 §2.1.2 says (an RFC
	// 4514 DN for subject_dn).
	Value string `json:"value,omitempty"`
}

// strongAuth reads the key files and converts the settings.
func (c *IssuerClient) strongAuth() (issuer.StrongAuth, error) {
	sa := issuer.StrongAuth{
		JWKSURI: c.JWKSURI, AllowedKids: c.AllowedKids, ValidateJTI: c.ValidateJTI,
		CertificateBoundTokens: c.CertificateBoundTokens,
	}
	for _, k := range c.Keys {
		data, err := os.ReadFile(k.File)
		if err != nil {
			return sa, fmt.Errorf("key: %w", err)
		}
		sa.Keys = append(sa.Keys, issuer.ClientKey{Data: data, Source: k.File, KID: k.KID})
	}
	if c.TLSClientAuth != nil {
		sa.TLSClientAuth = &issuer.TLSClientAuthMatch{Attribute: c.TLSClientAuth.Attribute, Value: c.TLSClientAuth.Value}
	}
	return sa, nil
}

// shareJWKSCache gives the issuer the process-wide JWKS cache for its
// clients' jwks_uri (released at Cleanup).
func (h *IssuerHandler) shareJWKSCache(ctx caddy.Context, cfg *issuer.Config) error {
	cache, release, err := sharedJWKSCache(ctx)
	if err != nil {
		return fmt.Errorf("authgate_issuer: %w", err)
	}
	cfg.JWKS, h.release = cache, release
	return nil
}
