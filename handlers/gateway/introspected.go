package gateway

import (
	"context"
	"errors"

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

// resolveOpaque resolves an opaque token when remote introspection is
// configured: a cached remote verdict first (a hash and a lookup, where a
// local issuer costs a store read), then the in-process issuers, then the
// endpoint. Remote verdicts are never put in the verified-token cache, which
// keeps token bytes and would outlive cache_ttl.
func (g *Gateway) resolveOpaque(ctx context.Context, tok string) (*token.Claims, LocalIssuer, remoteVerdict, error) {
	if len(tok) > g.cfg.Policy.MaxBytes() {
		return nil, nil, notRemote, &token.Error{Reason: token.ReasonOversized, Description: "token is too large"}
	}
	in := g.cfg.Introspect
	sum := digest(tok)
	if c, err, ok := in.cached(&sum, in.cfg.Now()); ok {
		return c, nil, remoteCached, err
	}
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
