package issuer

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/authgate/caddy-authgate/token"
)

// Per-client signing algorithms: a client whose signing_alg differs from
// the issuer's gets its tokens signed by a key manager of its own algorithm.
// Each such manager keeps (and rotates, on the issuer's schedule) its keys
// in the store under the issuer URL with "#<alg>" appended (an issuer URL
// has no fragment, so no issuer's own keys are ever in that namespace), and
// the JWKS publishes every manager's keys.

// signingAlgs are the algorithms the issuer and its clients may sign with.
var signingAlgs = []string{token.ES256, token.ES384, token.RS256, token.RS384, token.RS512, token.PS256,
	token.EdDSA, token.HS256, token.HS384, token.HS512}

// CheckSigningAlg refuses algorithms the issuer cannot sign with (the
// Caddyfile parser calls it too, for an error with file:line).
func CheckSigningAlg(alg string) error {
	if !slices.Contains(signingAlgs, alg) {
		return fmt.Errorf("unsupported signing_alg %q (ES256 ES384 RS256 RS384 RS512 PS256 EdDSA HS256 HS384 HS512)", alg)
	}
	return nil
}

// clientSigningAlgs lists the config clients' algorithms other than the
// issuer's, sorted.
func clientSigningAlgs(clients map[string]*client, def string) []string {
	var out []string
	for _, c := range clients {
		if c.signingAlg != "" && c.signingAlg != def && !slices.Contains(out, c.signingAlg) {
			out = append(out, c.signingAlg)
		}
	}
	slices.Sort(out)
	return out
}

// openAlgKeys loads (or creates) the keys of every client algorithm.
func (i *Issuer) openAlgKeys(ctx context.Context) error {
	i.algKeys = make(map[string]*keyManager, len(i.clientAlgs))
	for _, alg := range i.clientAlgs {
		m := newKeyManager(i.store, i.iss+"#"+alg, alg, i.rotation, i.maxTTL, i.now, i.logger)
		if err := m.refresh(ctx); err != nil {
			return fmt.Errorf("%s keys: %w", alg, err)
		}
		i.algKeys[alg] = m
	}
	return nil
}

// signerFor is the key that signs c's tokens now.
func (i *Issuer) signerFor(ctx context.Context, c *client) *token.Signer {
	if m := i.algKeys[c.signingAlg]; m != nil {
		return m.current(ctx).signer
	}
	return i.keys.current(ctx).signer
}

// resolveAlgKeys looks a kid up in the per-algorithm key sets (after the
// issuer's own set did not have it).
func (i *Issuer) resolveAlgKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	for _, a := range i.clientAlgs {
		st := i.algKeys[a].current(ctx)
		if st == nil {
			continue
		}
		if keys, err := st.set.ResolveKeys(ctx, kid, alg); err == nil {
			return keys, nil
		}
	}
	return nil, token.ErrUnknownKey
}

// jwksDocument is the JWKS of every key manager: the issuer's keys first,
// then the per-client algorithms' and the RS256 ID-token keys.
func (i *Issuer) jwksDocument(ctx context.Context) []byte {
	doc := i.keys.current(ctx).jwks
	extra := i.algDocs(ctx)
	if i.idKeys != nil { // RS256 ID-token keys (id_keys.go)
		if st := i.idKeys.current(ctx); st != nil {
			extra = append(extra, st.jwks)
		}
	}
	if len(extra) == 0 {
		return doc
	}
	const open, end = `{"keys":[`, `]}`
	var members [][]byte
	for _, d := range append([][]byte{doc}, extra...) {
		inner := bytes.TrimSuffix(bytes.TrimPrefix(d, []byte(open)), []byte(end))
		if len(inner) > 0 {
			members = append(members, inner)
		}
	}
	return append(append([]byte(open), bytes.Join(members, []byte(","))...), end...)
}

func (i *Issuer) algDocs(ctx context.Context) [][]byte {
	var out [][]byte
	for _, a := range i.clientAlgs {
		if st := i.algKeys[a].current(ctx); st != nil {
			out = append(out, st.jwks)
		}
	}
	return out
}

// runAlgKeys keeps the per-algorithm keys on schedule until ctx is done.
func (i *Issuer) runAlgKeys(ctx context.Context) {
	for _, a := range i.clientAlgs {
		go i.algKeys[a].run(ctx)
	}
}

// retireAlgKeys retires the per-algorithm keys (RetireKeys).
func (i *Issuer) retireAlgKeys() {
	for _, m := range i.algKeys {
		m.retireAll()
	}
}

// publishesJWKS reports whether any key manager has asymmetric keys.
func (i *Issuer) publishesJWKS() bool {
	if !token.IsHMAC(i.alg) {
		return true
	}
	for _, a := range i.clientAlgs {
		if !token.IsHMAC(a) {
			return true
		}
	}
	return false
}
