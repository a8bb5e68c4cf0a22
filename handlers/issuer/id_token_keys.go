package issuer

import (
	"context"

	"github.com/authgate/caddy-authgate/token"
)

// ResolveIDTokenKeys resolves the keys that verify this issuer's ID tokens
// (idTokenKeys: the RS256 ID-token keys, then the signing keys) for an
// in-process relying party, the gateway's browser sign-in. It must never
// verify access tokens; ResolveKeys, which gateways use for those, keeps
// serving the signing keys only.
func (i *Issuer) ResolveIDTokenKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	return i.idTokenKeys().ResolveKeys(ctx, kid, alg)
}
