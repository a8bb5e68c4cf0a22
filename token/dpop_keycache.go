package token

import (
	"strings"
	"sync"
	"sync/atomic"
)

// DPoPKeyCache remembers the keys of recent proof headers. A client signs
// every proof with one key, so its proofs share one header segment (typ,
// alg, jwk): the header is decoded, the key built and its thumbprint hashed
// once, not on every request. An entry is a pure function of the header
// bytes, so a hit is exactly what parsing would give. Reads take no lock;
// when the cache holds max entries it starts over empty (bounded memory,
// however many keys clients use).
type DPoPKeyCache struct {
	max int64
	n   atomic.Int64
	m   atomic.Pointer[sync.Map] // header segment -> *proofHeaderKey
}

// proofHeaderKey is a parsed, valid proof header.
type proofHeaderKey struct {
	alg string
	key *Key
	jkt string
}

// DefaultDPoPKeyCacheSize is the key cache size of a gateway or issuer.
const DefaultDPoPKeyCacheSize = 1024

// NewDPoPKeyCache returns a cache of at most max proof keys.
func NewDPoPKeyCache(max int) *DPoPKeyCache {
	c := &DPoPKeyCache{max: int64(max)}
	c.m.Store(new(sync.Map))
	return c
}

func (c *DPoPKeyCache) get(seg string) *proofHeaderKey {
	if c == nil {
		return nil
	}
	v, ok := c.m.Load().Load(seg)
	if !ok {
		return nil
	}
	return v.(*proofHeaderKey)
}

func (c *DPoPKeyCache) put(seg string, k *proofHeaderKey) {
	if c == nil {
		return
	}
	if c.n.Add(1) > c.max {
		c.m.Store(new(sync.Map))
		c.n.Store(1)
	}
	c.m.Load().Store(strings.Clone(seg), k) // not a view of the whole proof
}
