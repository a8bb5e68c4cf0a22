package token

import (
	"context"
	"crypto"
	"errors"
)

// MaxKidlessCandidates bounds how many keys a token without "kid" is tried
// against, so such tokens cannot multiply verification work.
const MaxKidlessCandidates = 4

// ErrUnknownKey means no key matches the token's kid and algorithm.
var ErrUnknownKey = errors.New("no key matches the token's kid and algorithm")

// ErrKeysUnavailable means the key source has no usable key set (never
// fetched, or stale beyond its limit). The gateway answers 503, never accepts.
var ErrKeysUnavailable = errors.New("signing keys are unavailable")

// KeyResolver finds the keys that may verify a token. Implementations:
// a static KeySet, jwkscache sources (which may re-fetch on an unknown kid),
// and the in-process issuer.
type KeyResolver interface {
	// ResolveKeys returns candidate keys for a token whose header carries
	// kid (possibly empty) and alg. It returns ErrUnknownKey (possibly
	// wrapped) when none match, or ErrKeysUnavailable when it cannot tell.
	// It may return fallback candidates together with ErrKeysUnavailable:
	// they are tried, and when none verifies the answer is "unavailable",
	// not "bad signature" (the right key may be in the set it could not get).
	ResolveKeys(ctx context.Context, kid, alg string) ([]*Key, error)
}

// KeySet is an immutable set of keys indexed by kid.
type KeySet struct {
	byKid map[string][]*Key
	all   []*Key
}

// NewKeySet indexes keys. Keys sharing a kid are kept in order.
func NewKeySet(keys ...*Key) *KeySet {
	s := &KeySet{byKid: make(map[string][]*Key, len(keys)), all: keys}
	for _, k := range keys {
		s.byKid[k.ID] = append(s.byKid[k.ID], k)
	}
	return s
}

// Keys returns every key in the set. The caller must not modify the slice.
func (s *KeySet) Keys() []*Key { return s.all }

// Len is the number of keys.
func (s *KeySet) Len() int { return len(s.all) }

// Lookup returns the keys that may verify a token with kid and alg. A kid
// matches the keys with that ID; when none has it, or the token has no kid,
// the keys without an ID (PEM files, hmac_secret) whose algorithm matches
// are tried, at most MaxKidlessCandidates of them. Lookup allocates only
// when several keys match.
func (s *KeySet) Lookup(kid, alg string) []*Key {
	if s == nil {
		return nil
	}
	if kid != "" {
		if keys := s.byKid[kid]; len(keys) == 1 && keys[0].Allows(alg) {
			return keys
		} else if found := filterAllowed(keys, alg, len(keys)); len(found) > 0 {
			return found
		}
		return filterAllowed(s.byKid[""], alg, MaxKidlessCandidates)
	}
	return filterAllowed(s.all, alg, MaxKidlessCandidates)
}

// LookupKid returns only the keys whose ID is kid and that allow alg: no
// kid-less fallback. A resolver that combines several sources asks every
// source by kid first, and only then falls back to kid-less keys (Kidless),
// so a kid-less PEM key never answers for a kid another source publishes.
func (s *KeySet) LookupKid(kid, alg string) []*Key {
	if s == nil || kid == "" {
		return nil
	}
	if keys := s.byKid[kid]; len(keys) == 1 && keys[0].Allows(alg) {
		return keys
	}
	return filterAllowed(s.byKid[kid], alg, len(s.byKid[kid]))
}

// Kidless returns the keys without an ID that allow alg, at most
// MaxKidlessCandidates of them.
func (s *KeySet) Kidless(alg string) []*Key {
	if s == nil {
		return nil
	}
	return filterAllowed(s.byKid[""], alg, MaxKidlessCandidates)
}

func filterAllowed(keys []*Key, alg string, max int) []*Key {
	var out []*Key
	for _, k := range keys {
		if k.Allows(alg) {
			out = append(out, k)
			if len(out) == max {
				break
			}
		}
	}
	return out
}

// ResolveKeys implements KeyResolver for a static set.
func (s *KeySet) ResolveKeys(_ context.Context, kid, alg string) ([]*Key, error) {
	if keys := s.Lookup(kid, alg); len(keys) > 0 {
		return keys, nil
	}
	return nil, ErrUnknownKey
}

// Reconcile builds the set that replaces old after a refresh that fetched
// fresh: keys present in both keep their old identity (so verified-token cache
// entries that point at them stay valid), and the keys of old missing from
// fresh are returned as removed, for the caller to Retire.
func Reconcile(old *KeySet, fresh []*Key) (merged *KeySet, removed []*Key) {
	if old == nil {
		return NewKeySet(fresh...), nil
	}
	keys := make([]*Key, len(fresh))
	kept := make(map[*Key]bool, len(fresh))
	for i, k := range fresh {
		keys[i] = k
		if prev := old.findEqual(k); prev != nil && !kept[prev] {
			keys[i] = prev
			kept[prev] = true
		}
	}
	for _, k := range old.all {
		if !kept[k] {
			removed = append(removed, k)
		}
	}
	return NewKeySet(keys...), removed
}

func (s *KeySet) findEqual(k *Key) *Key {
	for _, c := range s.byKid[k.ID] {
		if c.Alg == k.Alg && materialEqual(c.Material, k.Material) {
			return c
		}
	}
	return nil
}

// equaler is what the standard library's public keys implement.
type equaler interface{ Equal(x crypto.PublicKey) bool }

func materialEqual(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && string(ab) == string(bb)
	}
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return false
}
