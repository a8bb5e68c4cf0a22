package gateway

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// remoteVerdict tells whether claims came from remote introspection, and
// whether from its cache.
type remoteVerdict uint8

const (
	notRemote    remoteVerdict = iota // a signature or a local issuer vouched
	remoteCalled                      // the introspection endpoint answered
	remoteCached                      // a cached introspection verdict
)

// remoteHit answers an opaque token from the introspection cache: a hash and
// a lookup, before any other work (the token's characters were checked when
// its verdict was cached: same digest, same bytes), and before the local
// issuers, whose lookup costs a store read. It allocates nothing.
func (g *Gateway) remoteHit(tok string, now time.Time) (*token.Claims, error, bool) {
	if g.cfg.Introspect == nil || len(tok) > g.cfg.Policy.MaxBytes() || strings.IndexByte(tok, '.') >= 0 {
		return nil, nil, false
	}
	sum := digest(tok)
	return g.cfg.Introspect.cached(&sum, now)
}

// resolveOpaque resolves an opaque token that missed the introspection
// cache when remote introspection is configured: the in-process issuers
// first, then the endpoint. Remote verdicts are never put in the verified-token cache, which
// keeps token bytes and would outlive cache_ttl.
func (g *Gateway) resolveOpaque(ctx context.Context, tok string) (*token.Claims, LocalIssuer, remoteVerdict, error) {
	if len(tok) > g.cfg.Policy.MaxBytes() {
		return nil, nil, notRemote, &token.Error{Reason: token.ReasonOversized, Description: "token is too large"}
	}
	in := g.cfg.Introspect
	sum := digest(tok)
	if g.cfg.Local != nil && len(g.cfg.Local.All()) > 0 {
		c, local, err := g.lookupOpaque(ctx, tok)
		var te *token.Error
		if err == nil || !errors.As(err, &te) || te.Reason != token.ReasonUnknownKey {
			return c, local, notRemote, err
		}
	}
	c, hit, err := in.resolve(ctx, &sum, tok)
	if hit {
		return c, nil, remoteCached, err
	}
	return c, nil, remoteCalled, err
}
