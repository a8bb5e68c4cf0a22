package gateway

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/authgate/caddy-authgate/token"
)

// DefaultCacheSize is the default capacity of the verified-token cache.
const DefaultCacheSize = 10000

// Cache maps a token's exact bytes to its verified claims, so a repeated
// token costs a hash and a lookup instead of a signature verification. It is
// shared by every handler with the same key sources (the module pools it).
// Only facts that do not depend on a route's policy are cached; the policy,
// scopes and claims rules run on every request.
//
// Reads take no lock and write no shared memory: buckets are immutable
// slices published through atomic pointers, and recency is a per-entry
// "referenced" bit (CLOCK eviction) instead of an LRU list that every hit
// would reorder. So a hot token is read by all cores at once. Writers (cache
// misses, which just paid for a signature) serialise on one mutex.
type Cache struct {
	seed    maphash.Seed
	buckets []atomic.Pointer[[]*cacheEntry]
	mask    uint64

	mu   sync.Mutex    // guards ring, hand and bucket updates
	ring []*cacheEntry // CLOCK ring; nil slots are free
	hand int
}

type cacheEntry struct {
	key    string
	hash   uint64
	claims *token.Claims
	ref    atomic.Bool // set on a hit, cleared by the CLOCK hand
	slot   int         // index in ring; guarded by Cache.mu
}

// NewCache returns a cache holding at most size tokens; nil when size <= 0
// (caching disabled; a nil *Cache is valid and always misses).
func NewCache(size int) *Cache {
	if size <= 0 {
		return nil
	}
	n := 1
	for n < 2*size { // load factor <= 0.5: chains stay ~1 entry long
		n <<= 1
	}
	return &Cache{
		seed:    maphash.MakeSeed(),
		buckets: make([]atomic.Pointer[[]*cacheEntry], n),
		mask:    uint64(n - 1),
		ring:    make([]*cacheEntry, 0, size),
	}
}

func (c *Cache) find(tok string, h uint64) *cacheEntry {
	if b := c.buckets[h&c.mask].Load(); b != nil {
		for _, e := range *b {
			if e.hash == h && e.key == tok {
				return e
			}
		}
	}
	return nil
}

// Get returns the cached claims for tok if they are still usable at unix
// time now: not expired and not verified by a key its source has since
// removed (such entries are dropped). It takes no lock and does not allocate.
func (c *Cache) Get(tok string, now int64) (*token.Claims, bool) {
	if c == nil {
		return nil, false
	}
	h := maphash.String(c.seed, tok)
	e := c.find(tok, h)
	if e == nil {
		return nil, false
	}
	if e.claims.ExpiresAt <= now || (e.claims.Key != nil && e.claims.Key.Retired()) {
		c.mu.Lock()
		c.removeLocked(e)
		c.mu.Unlock()
		return nil, false
	}
	if !e.ref.Load() { // write only when the bit changes
		e.ref.Store(true)
	}
	return e.claims, true
}

// Put caches verified claims. Entries never outlive the token's exp (Get
// checks it); when the cache is full, CLOCK evicts an entry not referenced
// since the hand last passed.
func (c *Cache) Put(tok string, claims *token.Claims) {
	if c == nil {
		return
	}
	h := maphash.String(c.seed, tok)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.find(tok, h); old != nil {
		c.removeLocked(old)
	}
	e := &cacheEntry{key: tok, hash: h, claims: claims}
	c.placeLocked(e)
	b := c.buckets[h&c.mask].Load()
	var chain []*cacheEntry
	if b != nil {
		chain = make([]*cacheEntry, 0, len(*b)+1)
		chain = append(chain, *b...)
	}
	chain = append(chain, e)
	c.buckets[h&c.mask].Store(&chain)
}

// placeLocked gives e a ring slot: a free one, a new one while the ring is
// not full, or the first unreferenced entry's, evicting it.
func (c *Cache) placeLocked(e *cacheEntry) {
	if len(c.ring) < cap(c.ring) {
		e.slot = len(c.ring)
		c.ring = append(c.ring, e)
		return
	}
	for {
		victim := c.ring[c.hand]
		if victim != nil && victim.ref.Load() {
			victim.ref.Store(false)
			c.hand = (c.hand + 1) % len(c.ring)
			continue
		}
		if victim != nil {
			c.removeLocked(victim)
		}
		e.slot = c.hand
		c.ring[c.hand] = e
		c.hand = (c.hand + 1) % len(c.ring)
		return
	}
}

// removeLocked unlinks e from its bucket (publishing a new chain) and frees
// its ring slot. Removing an entry twice is harmless.
func (c *Cache) removeLocked(e *cacheEntry) {
	bp := &c.buckets[e.hash&c.mask]
	b := bp.Load()
	if b == nil {
		return
	}
	chain := make([]*cacheEntry, 0, len(*b))
	for _, x := range *b {
		if x != e {
			chain = append(chain, x)
		}
	}
	if len(chain) == len(*b) {
		return // already gone
	}
	if len(chain) == 0 {
		bp.Store(nil)
	} else {
		bp.Store(&chain)
	}
	if e.slot < len(c.ring) && c.ring[e.slot] == e {
		c.ring[e.slot] = nil
	}
}

// Len is the number of cached tokens.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.ring {
		if e != nil {
			n++
		}
	}
	return n
}
