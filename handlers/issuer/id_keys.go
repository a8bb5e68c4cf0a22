package issuer

import (
	"context"
	"encoding/json"

	"github.com/authgate/caddy-authgate/token"
)

// idKeyScope is appended to the issuer URL to name the ID-token keys in the
// store (SigningKeyStore keeps keys per issuer name).
const idKeyScope = "#id_token"

// needsIDKeys: OpenID Discovery requires RS256 ID tokens; an issuer whose
// signing_alg is another keeps an RS256 key for them when a config client
// may get ID tokens (the authorization_code grant) with RS256.
func (i *Issuer) needsIDKeys() bool {
	if i.alg == token.RS256 {
		return false
	}
	for _, c := range i.clients.load().byID {
		if c.allowsGrant(GrantAuthorizationCode) && (c.idTokenAlg == "" || c.idTokenAlg == token.RS256) {
			return true
		}
	}
	return false
}

// openIDKeys loads (or creates) the RS256 ID-token keys. They rotate on the
// signing keys' schedule and are published in the same JWKS; they never
// verify access tokens (ResolveKeys serves the signing keys only).
func (i *Issuer) openIDKeys(ctx context.Context, st Store) error {
	if !i.needsIDKeys() {
		return nil
	}
	i.idKeys = newKeyManager(st, i.iss+idKeyScope, token.RS256, i.rotation, i.maxTTL, i.now, i.logger)
	return i.idKeys.refresh(ctx)
}

// jwksMemo is the JWKS of both key sets, kept while neither changes.
type jwksMemo struct {
	a, b *keyState
	doc  []byte
}

// jwksDoc is the published JWKS: the signing keys' and the ID-token keys'.
func (i *Issuer) jwksDoc(ctx context.Context) []byte {
	a := i.keys.current(ctx)
	if i.idKeys == nil {
		return a.jwks
	}
	b := i.idKeys.current(ctx)
	if m := i.jwksCache.Load(); m != nil && m.a == a && m.b == b {
		return m.doc
	}
	var da, db struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(a.jwks, &da) != nil || b == nil || json.Unmarshal(b.jwks, &db) != nil {
		return a.jwks
	}
	doc, err := json.Marshal(map[string]any{"keys": append(da.Keys, db.Keys...)})
	if err != nil {
		return a.jwks
	}
	i.jwksCache.Store(&jwksMemo{a: a, b: b, doc: doc})
	return doc
}

// idTokenKeys resolves the keys an ID token of ours may be signed with: the
// signing keys and the RS256 ID-token keys (an id_token_hint at logout is
// checked with it; access tokens never are).
func (i *Issuer) idTokenKeys() token.KeyResolver { return idTokenResolver{i} }

type idTokenResolver struct{ i *Issuer }

func (r idTokenResolver) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	if r.i.idKeys != nil && alg == token.RS256 {
		if st := r.i.idKeys.current(ctx); st != nil {
			if keys, err := st.set.ResolveKeys(ctx, kid, alg); err == nil && len(keys) > 0 {
				return keys, nil
			}
		}
	}
	return r.i.ResolveKeys(ctx, kid, alg)
}
