package issuer

import (
	"context"
	"errors"
	"net/netip"

	"github.com/authgate/caddy-authgate/token"
)

// The methods below make *Issuer a gateway.LocalIssuer (both packages'
// ErrNotFound are store.ErrNotFound).

// ResolveKeys implements token.KeyResolver over every key not yet expired,
// HMAC keys included (they are never published, only used in-process).
func (i *Issuer) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	st := i.keys.current(ctx)
	if st == nil {
		return nil, token.ErrKeysUnavailable
	}
	keys, err := st.set.ResolveKeys(ctx, kid, alg)
	if err != nil && len(i.algKeys) > 0 {
		return i.resolveAlgKeys(ctx, kid, alg)
	}
	return keys, err
}

// LookupOpaque resolves an opaque access token issued here; ErrNotFound when
// it is unknown, expired or revoked.
func (i *Issuer) LookupOpaque(ctx context.Context, tok string) (*token.Claims, error) {
	if hasDot(tok) {
		return nil, ErrNotFound
	}
	info, err := i.resolve(ctx, tok)
	if errors.Is(err, errNotOurs) || err == nil && i.revoked.has(info.jti, i.now().Unix()) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return info.claims(i.iss), nil
}

// Admit refuses revoked tokens, tokens of removed or disabled clients or
// users,
// tokens that carry a scope their client no longer has, and requests from
// addresses outside the client's IP filter. It is in-memory only.
func (i *Issuer) Admit(c *token.Claims, addr netip.Addr) error {
	if c == nil || c.Issuer != i.iss {
		return ErrForeignToken
	}
	if i.storeStale() {
		return errSharedStoreDown
	}
	now := i.now().Unix()
	if err := i.admissible(c.JTI, c.ClientID, c.Subject, c.Scopes, c.IssuedAt, c.AuthTime, now); err != nil {
		return err
	}
	if c.AuthTime != 0 {
		if err := i.userAdmissible(c.Subject); err != nil {
			return err
		}
	}
	if !i.clients.load().byID[c.ClientID].ipAllowed(addr.Unmap()) {
		return ErrIPNotAllowed
	}
	return nil
}

// AddressBound reports whether Admit's answer for c depends on the client
// address: the token's client has an IP filter.
func (i *Issuer) AddressBound(c *token.Claims) bool {
	if c == nil || c.Issuer != i.iss {
		return false
	}
	cl := i.clients.load().byID[c.ClientID]
	return cl != nil && cl.filter != nil
}

// RetireKeys retires every key this instance loaded and stops it loading
// more: tokens it verified leave every gateway's verified-token cache, and it
// verifies nothing any more. The module calls it when the config holding this
// issuer goes away (a reload builds a new instance).
func (i *Issuer) RetireKeys() {
	if i.keys != nil { // nil before Open
		i.keys.retireAll()
		i.retireAlgKeys()
	}
	if i.idKeys != nil {
		i.idKeys.retireAll()
	}
}
