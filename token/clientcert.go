package token

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
)

// CertThumbprint is the RFC 8705 §3.1 x5t#S256 of a certificate: the
// base64url SHA-256 of its DER encoding.
func CertThumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PeerCertificate is the client certificate of a request, as the issuer's
// mTLS client authentication and the gateway's certificate binding see it.
type PeerCertificate struct {
	Cert *x509.Certificate
	// Verified reports that a trust pool verified the chain: Caddy's `tls
	// { client_auth { trust_pool ... } }` on this connection, or the
	// trusted proxy that forwarded it in the Client-Cert header.
	Verified bool
	// Forwarded reports that it came from a trusted proxy's header.
	Forwarded bool
}

type peerCertKey struct{}

// WithForwardedCertificate returns a request whose client certificate is
// the one a trusted proxy forwarded (RFC 9440), or none when pc is nil: the
// connection's own certificate (the proxy's) is then never used. The module
// calls it only for peers in trusted_proxies.
func WithForwardedCertificate(r *http.Request, pc *PeerCertificate) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), peerCertKey{}, &pc))
}

// ClientCertificate returns the request's client certificate: the one a
// trusted proxy forwarded when the module set one (WithForwardedCertificate),
// else the TLS connection's leaf certificate, or nil.
func ClientCertificate(r *http.Request) *PeerCertificate {
	if v, ok := r.Context().Value(peerCertKey{}).(**PeerCertificate); ok {
		return *v
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return &PeerCertificate{Cert: r.TLS.PeerCertificates[0], Verified: len(r.TLS.VerifiedChains) > 0}
}

// MaxClientCertHeaderBytes bounds a Client-Cert header value (a DER
// certificate of 12 KiB, base64).
const MaxClientCertHeaderBytes = 16 << 10

// ParseClientCertHeader decodes an RFC 9440 Client-Cert value: a structured
// field byte sequence, ":" base64 DER ":".
func ParseClientCertHeader(v string) (*x509.Certificate, error) {
	if len(v) > MaxClientCertHeaderBytes {
		return nil, errors.New("Client-Cert header too large")
	}
	if len(v) < 2 || v[0] != ':' || v[len(v)-1] != ':' {
		return nil, errors.New("Client-Cert is not a structured-field byte sequence")
	}
	der, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
	if err != nil {
		return nil, errors.New("Client-Cert is not base64")
	}
	return x509.ParseCertificate(der)
}
