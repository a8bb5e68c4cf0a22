package issuer

import (
	"crypto"
	"net/http"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// Mutual-TLS client authentication (RFC 8705 §2). Caddy's `tls {
// client_auth { ... } }` does the handshake; the issuer reads the
// connection's certificate, or the one a trusted proxy forwarded (RFC 9440
// Client-Cert, see token.WithForwardedCertificate). The client names itself
// with client_id.

// presentCertificate returns the client certificate and client_id of a
// request that carries no other credentials.
func presentCertificate(r *http.Request, f form) (*clientCredentials, *oauthError) {
	pc := token.ClientCertificate(r)
	if pc == nil {
		return nil, nil
	}
	id := f.get("client_id")
	if id == "" || len(r.Header.Values("Authorization")) > 0 || f.get("client_secret") != "" || f.get("client_assertion") != "" {
		// Another method authenticates (or none does): a certificate on
		// the connection is then only a binding (certificate_bound_tokens).
		return nil, nil
	}
	return &clientCredentials{clientID: id, cert: pc}, nil
}

// tlsClientAuth is PKI mutual TLS: a trust pool verified the chain and the
// client's one configured attribute matches (RFC 8705 §2.1).
type tlsClientAuth struct{}

func (tlsClientAuth) name() string { return AuthTLSClientAuth }

func (tlsClientAuth) present(r *http.Request, f form) (*clientCredentials, *oauthError) {
	return presentCertificate(r, f)
}

func (tlsClientAuth) verify(_ *Issuer, _ *clientSnapshot, c *client, cr *clientCredentials, _ time.Time) (bool, error) {
	if c == nil || c.strong == nil || c.strong.tlsMatch == nil || cr.cert == nil || !cr.cert.Verified {
		return false, nil
	}
	return c.strong.tlsMatch.matches(cr.cert.Cert), nil
}

// selfSignedTLSClientAuth accepts a certificate whose public key is one of
// the client's registered keys (RFC 8705 §2.2); no chain is verified.
type selfSignedTLSClientAuth struct{}

func (selfSignedTLSClientAuth) name() string { return AuthSelfSignedTLSClientAuth }

func (selfSignedTLSClientAuth) present(r *http.Request, f form) (*clientCredentials, *oauthError) {
	return presentCertificate(r, f)
}

func (selfSignedTLSClientAuth) verify(i *Issuer, _ *clientSnapshot, c *client, cr *clientCredentials, now time.Time) (bool, error) {
	if c == nil || c.strong == nil || cr.cert == nil {
		return false, nil
	}
	cert := cr.cert.Cert
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return false, nil
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false, nil
	}
	var keys []*token.Key
	if c.strong.keys != nil {
		keys = c.strong.keys.Keys()
	}
	if c.strong.jwksURI != "" && i.jwks != nil {
		src := i.jwks.JWKS(c.strong.jwksURI, i.jwksOpts)
		if err := src.WaitReady(cr.ctx); err == nil {
			if set := src.Keys(); set != nil {
				keys = append(keys[:len(keys):len(keys)], set.Keys()...)
			}
		}
	}
	for _, k := range keys {
		if !k.Retired() && pub.Equal(k.Material) {
			return true, nil
		}
	}
	return false, nil
}
