package issuer

import (
	"crypto/subtle"
	"net/http"

	"github.com/authgate/caddy-authgate/token"
)

// bindCertificate binds what m mints to the request's client certificate
// when the client has certificate_bound_tokens (RFC 8705 §3): the token's
// cnf carries the certificate's x5t#S256, and a gateway accepts it only
// from a connection with that certificate. Without a certificate such a
// client gets no token at all, rather than an unbound one.
func (i *Issuer) bindCertificate(r *http.Request, c *client, m *mintRequest) *oauthError {
	if c.strong == nil || !c.strong.certBound {
		return nil
	}
	pc := token.ClientCertificate(r)
	if pc == nil {
		return invalidRequest("this client's tokens are bound to its TLS client certificate; none was presented")
	}
	if m.cnf == nil {
		m.cnf = &token.Confirmation{}
	}
	m.cnf.X5TS256 = token.CertThumbprint(pc.Cert.Raw)
	return nil
}

// WriteInvalidRequest answers an RFC 6749 invalid_request (400) for a
// request the module refused before the issuer saw it (a malformed
// forwarded client certificate).
func WriteInvalidRequest(w http.ResponseWriter, desc string) {
	writeError(w, invalidRequest(desc), "")
}

// senderConstrained reports whether every token of c must be bound (dpop
// required, or certificate_bound_tokens): the implicit grant, which has
// nothing to bind to, is then refused.
func (c *client) senderConstrained() bool {
	return c.dpopRequired || c.strong != nil && c.strong.certBound
}

// checkBoundCertificate refuses a refresh whose token is bound to a client
// certificate (m.boundX5T) unless the request comes with that certificate:
// a stolen refresh token of a public mTLS client is useless elsewhere.
func checkBoundCertificate(r *http.Request, m *mintRequest) *oauthError {
	if m.boundX5T == "" {
		return nil
	}
	pc := token.ClientCertificate(r)
	if pc == nil || subtle.ConstantTimeCompare([]byte(token.CertThumbprint(pc.Cert.Raw)), []byte(m.boundX5T)) != 1 {
		return invalidGrant(invalidRefresh)
	}
	return nil
}

// refreshCertBinding is the certificate a new refresh token is bound to
// (RFC 8705 §4): a public client's is bound to the certificate of the
// request that got it, when its tokens are certificate-bound; the successor
// of a bound token stays bound to it. A confidential client's refresh
// tokens are bound by its client authentication.
func refreshCertBinding(m *mintRequest) string {
	if m.boundX5T != "" {
		return m.boundX5T
	}
	if m.client.public && m.cnf != nil {
		return m.cnf.X5TS256
	}
	return ""
}
