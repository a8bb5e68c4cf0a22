package gateway

import (
	"crypto/subtle"
	"net/http"

	"github.com/authgate/caddy-authgate/token"
)

// ReasonCertificateBinding labels a certificate-bound token (cnf x5t#S256,
// RFC 8705 §3) presented without its certificate.
const ReasonCertificateBinding = "certificate_binding"

// ReasonUnknownBinding labels a token bound by a cnf method no binding step
// checks: it is refused, never treated as a bearer token.
const ReasonUnknownBinding = "unknown_binding"

// checkCertificateBinding is the mTLS binding step, after verification and
// before the scope and claim rules: a token whose cnf has an x5t#S256 is
// accepted only when the request's client certificate (of the TLS
// connection, or forwarded by a trusted proxy) has that thumbprint. Tokens
// of external providers (Keycloak) are bound the same way. It runs on every
// request, cached token or not: the cache vouches for the token, not for
// the connection.
func checkCertificateBinding(r *http.Request, c *token.Claims) *Error {
	if c.Cnf == nil {
		return nil
	}
	if c.Cnf.Unknown() {
		return errInvalidToken(ReasonUnknownBinding, "the token is bound by a confirmation method this gateway does not check")
	}
	if c.Cnf.X5TS256 == "" {
		return nil
	}
	pc := token.ClientCertificate(r)
	if pc == nil {
		return errInvalidToken(ReasonCertificateBinding, "certificate-bound token without a client certificate")
	}
	have := token.CertThumbprint(pc.Cert.Raw)
	if subtle.ConstantTimeCompare([]byte(have), []byte(c.Cnf.X5TS256)) != 1 {
		return errInvalidToken(ReasonCertificateBinding, "certificate-bound token with another client certificate")
	}
	return nil
}
