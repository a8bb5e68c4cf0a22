package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// MinRSABits is the smallest RSA modulus accepted for verification.
const MinRSABits = 2048

// MinHMACBytes is the smallest HMAC secret accepted (RFC 7518 §3.2: at least
// the hash size; 32 bytes for HS256).
const MinHMACBytes = 32

// Key is one verification key. It is immutable except for its retired flag,
// which a key source sets when the key disappears from its set, so that tokens
// verified with it stop being served from the verified-token cache at once.
type Key struct {
	// ID is the JWK "kid"; empty for keys without one.
	ID string
	// Alg, when set (JWK "alg"), is the only algorithm the key verifies.
	Alg string
	// Kind is the key's family and size.
	Kind KeyKind
	// Material is *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey or
	// []byte (HMAC secret).
	Material any
	// Source names where the key came from (file, URL, issuer) for logs.
	Source string

	retired atomic.Bool
	lease   atomic.Pointer[Lease] // nil: usable until retired
	hmac    *hmacVerifier         // HMAC keys only
}

// Lease is how long the keys of one source stay usable: a key source that can
// no longer refresh (stale beyond max_stale) stops all its keys, and so every
// cached token they verified, when the lease runs out. One atomic load.
type Lease struct{ until atomic.Int64 } // unix nanoseconds

// Set makes the lease's keys usable until unixNano (exclusive).
func (l *Lease) Set(unixNano int64) { l.until.Store(unixNano) }

// Until is the end of the lease, in unix nanoseconds.
func (l *Lease) Until() int64 { return l.until.Load() }

// NewKey checks material and builds a Key. alg may be empty.
func NewKey(id, alg string, material any, source string) (*Key, error) {
	kind, err := kindOf(material)
	if err != nil {
		return nil, err
	}
	if alg != "" {
		if !KnownAlgorithm(alg) {
			return nil, fmt.Errorf("key %q: unsupported algorithm %q", id, alg)
		}
		if !kindAllows(kind, alg) {
			return nil, fmt.Errorf("key %q: algorithm %s does not fit a %s key", id, alg, kind)
		}
	}
	k := &Key{ID: id, Alg: alg, Kind: kind, Material: material, Source: source}
	if kind == KindHMAC {
		k.hmac = newHMACVerifier(material.([]byte))
	}
	return k, nil
}

// verify checks sig over input with this key and alg (already allowed).
func (k *Key) verify(alg string, input, sig []byte) bool {
	if k.hmac != nil {
		return k.hmac.verify(alg, input, sig)
	}
	return jwsbb.Verify(k.Material, alg, input, sig) == nil
}

func kindOf(material any) (KeyKind, error) {
	switch k := material.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return KindP256, nil
		case elliptic.P384():
			return KindP384, nil
		case elliptic.P521():
			return KindP521, nil
		}
		return KindUnknown, errors.New("unsupported elliptic curve")
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return KindUnknown, fmt.Errorf("RSA key of %d bits is too small (minimum %d)", k.N.BitLen(), MinRSABits)
		}
		return KindRSA, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return KindUnknown, errors.New("malformed Ed25519 key")
		}
		return KindEd25519, nil
	case []byte:
		if len(k) < MinHMACBytes {
			return KindUnknown, fmt.Errorf("HMAC secret of %d bytes is too short (minimum %d)", len(k), MinHMACBytes)
		}
		return KindHMAC, nil
	}
	return KindUnknown, fmt.Errorf("unsupported key type %T", material)
}

// Allows reports whether the key may verify a token signed with alg.
func (k *Key) Allows(alg string) bool {
	if k.Alg != "" {
		return k.Alg == alg
	}
	return kindAllows(k.Kind, alg)
}

// Retire marks the key as removed from its source.
func (k *Key) Retire() { k.retired.Store(true) }

// Retired reports whether the key was removed from its source.
func (k *Key) Retired() bool { return k.retired.Load() }

// SetLease binds the key to its source's lease (before the key is published).
func (k *Key) SetLease(l *Lease) { k.lease.Store(l) }

// Lease returns the key's lease, nil when it has none.
func (k *Key) Lease() *Lease { return k.lease.Load() }

// UsableAt reports whether the key may still vouch for a token at unix time
// nowNano: not retired and, when it has a lease, within it.
func (k *Key) UsableAt(nowNano int64) bool {
	if k.retired.Load() {
		return false
	}
	l := k.lease.Load()
	return l == nil || nowNano < l.until.Load()
}
