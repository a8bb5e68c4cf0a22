package module

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/authgate/caddy-authgate/token"
)

// errClientCertHeader is a Client-Cert header from a trusted proxy that is
// not one certificate.
var errClientCertHeader = errors.New("malformed client certificate header")

// forwardedClientCert applies `client_cert_header <Header>` (RFC 9440): from
// a peer in the server's trusted_proxies the header is the client's
// certificate (the proxy terminated TLS and verified it), and the proxy's own
// connection certificate never counts; from anyone else the header is
// removed and the connection's certificate, if any, is used. An empty name
// turns it off.
func forwardedClientCert(r *http.Request, name string) (*http.Request, error) {
	if name == "" {
		return r, nil
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	values := r.Header.Values(name)
	if !trusted {
		r.Header.Del(name)
		return r, nil
	}
	switch len(values) {
	case 0:
		return token.WithForwardedCertificate(r, nil), nil
	case 1:
	default:
		return r, errClientCertHeader
	}
	cert, err := token.ParseClientCertHeader(values[0])
	if err != nil {
		return r, errClientCertHeader
	}
	return token.WithForwardedCertificate(r, &token.PeerCertificate{Cert: cert, Verified: true, Forwarded: true}), nil
}

// stripUntrustedClientCert removes the header from a request of a peer
// outside trusted_proxies, without parsing anything (requests the issuer
// passes on).
func stripUntrustedClientCert(r *http.Request, name string) {
	if name == "" {
		return
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); !trusted {
		r.Header.Del(name)
	}
}

// checkClientCertHeader validates a client_cert_header name.
func checkClientCertHeader(name string) error {
	if name == "" {
		return nil
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return errors.New("client_cert_header must be a header name (letters, digits, '-')")
		}
	}
	return nil
}
