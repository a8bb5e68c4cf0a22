package gateway

import (
	"context"
	"net/netip"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// LocalIssuer is an authgate issuer running in the same process. The gateway
// trusts it without any HTTP round trip: it verifies JWTs with its keys
// (including HMAC keys, which are never published), resolves its opaque
// tokens, and asks it on every request (cached or not) whether a token is
// still admissible. Cached verdicts are bound to the instance (compared with
// ==, so implementations must be comparable, e.g. pointers): one instance
// per config and store.
type LocalIssuer interface {
	token.KeyResolver

	// IssuerURL is the issuer's "iss".
	IssuerURL() string

	// LookupOpaque resolves an opaque access token issued here. It returns
	// ErrNotFound when the token is unknown, expired or revoked.
	LookupOpaque(ctx context.Context, tok string) (*token.Claims, error)

	// Admit runs on every request after the token was verified: it refuses
	// revoked tokens, tokens of disabled or removed clients, and requests from
	// addresses outside the client's IP filter. It must be cheap (in-memory).
	Admit(c *token.Claims, client netip.Addr) error

	// AddressBound reports whether Admit's answer for c depends on the
	// client address (its client has an IP filter). Such a token is not
	// judged during TLS 0-RTT: the gateway answers 425 Too Early.
	AddressBound(c *token.Claims) bool
}

// ErrNotFound is returned by LocalIssuer.LookupOpaque for unknown tokens:
// store.ErrNotFound, the one not-found sentinel of every layer.
var ErrNotFound = store.ErrNotFound
