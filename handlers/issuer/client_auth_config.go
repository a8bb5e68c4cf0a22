package issuer

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// Client authentication methods beyond the shared secret (RFC 7591 names).
const (
	AuthPrivateKeyJWT           = "private_key_jwt"
	AuthClientSecretJWT         = "client_secret_jwt"
	AuthTLSClientAuth           = "tls_client_auth"
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// StrongAuth configures a client's JWT (RFC 7523) and mutual-TLS (RFC 8705)
// authentication and certificate-bound tokens.
type StrongAuth struct {
	// Keys verify private_key_jwt assertions and are the certificates (or
	// public keys) that self_signed_tls_client_auth accepts.
	Keys []ClientKey
	// JWKSURI is the client's JWKS (fetched through the JWKS cache, bounded
	// in size, refetched on an unknown kid), for the same uses as Keys.
	JWKSURI string
	// AllowedKids, when set, are the only key ids an assertion may be
	// signed with.
	AllowedKids []string
	// ValidateJTI makes each assertion jti single use until its exp; nil
	// means on.
	ValidateJTI *bool
	// TLSClientAuth is the certificate attribute tls_client_auth matches.
	TLSClientAuth *TLSClientAuthMatch
	// CertificateBoundTokens binds every token issued to the client to the
	// certificate of the TLS connection that asked for it (cnf x5t#S256).
	CertificateBoundTokens bool
}

// ClientKey is one key file of a client: PEM (public key or certificate),
// a JWK or a JWKS, already read.
type ClientKey struct {
	Data []byte
	// Source names it in errors (the file path).
	Source string
	// KID names a single key without one (a PEM certificate's friendly
	// name); it overrides the kid of a single JWK.
	KID string
}

// strongAuth is a client's built StrongAuth; immutable.
type strongAuth struct {
	keys        *token.KeySet // nil: none
	jwksURI     string
	allowedKids []string
	validateJTI bool
	hmac        []hmacSecret // client_secret_jwt
	tlsMatch    *certMatcher
	certBound   bool
}

// hmacSecret is a clear client secret kept (in memory only) to verify
// client_secret_jwt assertions.
type hmacSecret struct {
	key     *token.Key
	expires time.Time
}

// needsSecretHash reports whether methods include a shared-secret method
// (which needs a secret hash).
func needsSecretHash(methods []string) bool {
	return slices.Contains(methods, AuthClientSecretBasic) || slices.Contains(methods, AuthClientSecretPost)
}

func buildStrongAuth(cc *ClientConfig, methods []string, plain []SecretConfig) (*strongAuth, error) {
	sa := &cc.StrongAuth
	has := func(m string) bool { return slices.Contains(methods, m) }
	keyed := has(AuthPrivateKeyJWT) || has(AuthSelfSignedTLSClientAuth)
	jwtAuth := has(AuthPrivateKeyJWT) || has(AuthClientSecretJWT)
	out := &strongAuth{jwksURI: sa.JWKSURI, validateJTI: sa.ValidateJTI == nil || *sa.ValidateJTI,
		allowedKids: slices.Clone(sa.AllowedKids), certBound: sa.CertificateBoundTokens}
	if (len(sa.Keys) > 0 || sa.JWKSURI != "") && !keyed {
		return nil, errors.New("key and jwks_uri need auth_method private_key_jwt or self_signed_tls_client_auth")
	}
	if keyed && len(sa.Keys) == 0 && sa.JWKSURI == "" {
		return nil, errors.New("private_key_jwt and self_signed_tls_client_auth need a key or a jwks_uri")
	}
	if (len(sa.AllowedKids) > 0 || sa.ValidateJTI != nil) && !jwtAuth {
		return nil, errors.New("allowed_kids and validate_jti need auth_method private_key_jwt or client_secret_jwt")
	}
	if sa.JWKSURI != "" {
		u, err := url.Parse(sa.JWKSURI)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("jwks_uri %q must be an https URL", sa.JWKSURI)
		}
		// Keys fetched in clear can be replaced on the path: whoever does
		// authenticates as the client. Plain http only to loopback.
		if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("jwks_uri %q must be https (http only to a loopback address)", sa.JWKSURI)
		}
	}
	var keys []*token.Key
	for _, kf := range sa.Keys {
		ks, err := token.ParseKeyFile(kf.Data, kf.Source)
		if err != nil {
			return nil, err
		}
		if kf.KID != "" {
			if len(ks) != 1 {
				return nil, fmt.Errorf("%s: a kid names one key; the file has %d", kf.Source, len(ks))
			}
			k, err := token.NewKey(kf.KID, ks[0].Alg, ks[0].Material, kf.Source)
			if err != nil {
				return nil, err
			}
			ks[0] = k
		}
		keys = append(keys, ks...)
	}
	if len(keys) > 0 {
		out.keys = token.NewKeySet(keys...)
	}
	if has(AuthClientSecretJWT) {
		for _, s := range plain {
			k, err := token.NewKey("", "", []byte(s.Plain), "client secret")
			if err != nil {
				return nil, fmt.Errorf("client_secret_jwt: %w", err)
			}
			out.hmac = append(out.hmac, hmacSecret{key: k, expires: s.Expires})
		}
		if len(out.hmac) == 0 {
			return nil, errors.New("client_secret_jwt needs a secret in clear (a value or placeholder, not a hash)")
		}
	}
	if sa.TLSClientAuth != nil {
		if !has(AuthTLSClientAuth) {
			return nil, errors.New("tls_client_auth <attribute> needs auth_method tls_client_auth")
		}
		m, err := newCertMatcher(sa.TLSClientAuth.Attribute, sa.TLSClientAuth.Value)
		if err != nil {
			return nil, err
		}
		out.tlsMatch = m
	} else if has(AuthTLSClientAuth) {
		return nil, errors.New("auth_method tls_client_auth needs tls_client_auth <attribute> <value>")
	}
	return out, nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// jwksURIs lists the clients' JWKS URIs (the issuer checks it has a cache
// to fetch them with).
func jwksURIs(clients map[string]*client) []string {
	var out []string
	for _, c := range clients {
		if c.strong != nil && c.strong.jwksURI != "" {
			out = append(out, c.strong.jwksURI)
		}
	}
	return out
}

// preferredMethod returns, among the registered methods that r presents
// credentials for, the first that c may use (same client id), or first.
func preferredMethod(r *http.Request, f form, c *client, first clientAuthMethod, cr *clientCredentials) (clientAuthMethod, *clientCredentials) {
	for _, m := range clientAuthRegistry {
		if m == first || !c.allowsAuth(m.name()) {
			continue
		}
		if alt, e := m.present(r, f); e == nil && alt != nil && alt.clientID == cr.clientID {
			return m, alt
		}
	}
	return first, cr
}

// addStrongAuthMetadata adds RFC 8414's signing algorithms of the JWT
// methods (the methods themselves come from the registry) and RFC 8705
// §3.3's tls_client_certificate_bound_access_tokens.
func addStrongAuthMetadata(doc map[string]any) {
	algs := append(slices.Clone(asymmetricAlgs), hmacAlgs...)
	for _, k := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint"} {
		doc[k+"_auth_signing_alg_values_supported"] = algs
	}
	doc["tls_client_certificate_bound_access_tokens"] = true
}
