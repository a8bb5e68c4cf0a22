package issuer

import (
	"context"

	"github.com/authgate/caddy-authgate/token"
)

// ResolveIDTokenKeys resolves the keys that verify this issuer's ID tokens
// for an in-process relying party (the gateway's browser sign-in): the
// RS256 ID-token keys, then the signing keys. It must never verify access
// tokens; ResolveKeys, which gateways use for those, keeps serving the
// signing keys only.
func (i *Issuer) ResolveIDTokenKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	if i.idKeys != nil && alg == token.RS256 {
		if st := i.idKeys.current(ctx); st != nil {
			if keys, err := st.set.ResolveKeys(ctx, kid, alg); err == nil && len(keys) > 0 {
				return keys, nil
			}
		}
	}
	return i.ResolveKeys(ctx, kid, alg)
}

// idTokenResolver is ResolveIDTokenKeys as a token.KeyResolver (for an
// id_token_hint, say).
type idTokenResolver struct{ i *Issuer }

func (r idTokenResolver) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	return r.i.ResolveIDTokenKeys(ctx, kid, alg)
}
