package issuer

import (
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
