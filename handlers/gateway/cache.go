package gateway

import (
	"hash/maphash"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/authgate/caddy-authgate/token"
)

// DefaultCacheSize is the default capacity of the verified-token cache.
const DefaultCacheSize = 10000

const cacheShards = 16

// Cache maps a token's exact bytes to its verified claims, so a repeated
// token costs a hash and a map lookup instead of a signature verification.
// It is sharded so concurrent requests do not serialise on one mutex, and it
// is shared by every handler with the same key sources (the module pools it).
// Only facts that do not depend on a route's policy are cached; the policy,
// scopes and claims rules run on every request.
type Cache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu           sync.Mutex
	lru          *simplelru.LRU[string, *token.Claims]
	hits, misses uint64   // guarded by mu, so counting costs no shared write
	_            [24]byte // keep shards on separate cache lines
}

// NewCache returns a cache holding about size tokens; nil when size <= 0
// (caching disabled).
func NewCache(size int) *Cache {
	if size <= 0 {
		return nil
	}
	per := (size + cacheShards - 1) / cacheShards
	c := &Cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].lru, _ = simplelru.NewLRU[string, *token.Claims](per, nil)
	}
	return c
}

func (c *Cache) shard(tok string) *cacheShard {
	return &c.shards[maphash.String(c.seed, tok)%cacheShards]
}

// Get returns the cached claims for tok if they are still usable at unix
// time now: not expired and not verified by a key its source has since
// removed. It does not allocate.
func (c *Cache) Get(tok string, now int64) (*token.Claims, bool) {
	if c == nil {
		return nil, false
	}
	s := c.shard(tok)
	s.mu.Lock()
	claims, ok := s.lru.Get(tok)
	if ok && (claims.ExpiresAt <= now || (claims.Key != nil && claims.Key.Retired())) {
		s.lru.Remove(tok)
		ok = false
	}
	if ok {
		s.hits++
	} else {
		s.misses++
	}
	s.mu.Unlock()
	return claims, ok
}

// Put caches verified claims; entries never outlive the token's exp (Get
// checks it), and the least recently used entry makes room.
func (c *Cache) Put(tok string, claims *token.Claims) {
	if c == nil {
		return
	}
	s := c.shard(tok)
	s.mu.Lock()
	s.lru.Add(tok, claims)
	s.mu.Unlock()
}

// Stats returns the cumulative hits and misses.
func (c *Cache) Stats() (hits, misses uint64) {
	if c == nil {
		return 0, 0
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		hits += s.hits
		misses += s.misses
		s.mu.Unlock()
	}
	return hits, misses
}

// Len is the number of cached tokens.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}
