package gateway

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// DefaultCacheSize is the default capacity of the verified-token cache.
const DefaultCacheSize = 10000

// MaxCacheSize bounds cache_size. Memory grows with the entries actually
// used (about 1–2 KiB each with the token bytes), never with the bound.
const MaxCacheSize = 1_000_000

// minBuckets is the hash table's initial size; it doubles as entries arrive.
const minBuckets = 64

// CheckCacheSize validates a configured cache size.
func CheckCacheSize(n int) error {
	if n < 0 || n > MaxCacheSize {
		return fmt.Errorf("cache_size must be between 0 and %d, got %d", MaxCacheSize, n)
	}
	return nil
}

// Cache maps a token's exact bytes to its verified claims, so a repeated
// token costs a hash and a lookup instead of a signature verification. It is
// shared by every handler with the same key sources (the module pools it).
// Only facts that do not depend on a route's policy are cached; the policy,
// scopes and claims rules run on every request.
//
// An entry is bound to what verified it: the key (which its source retires
// when it leaves the set, or whose lease runs out when the source goes stale
// beyond max_stale) and the in-process issuer instance, if any. A hit whose
// binding no longer holds is a miss.
//
// Reads take no lock and write no shared memory: the table and its buckets
// are immutable slices published through atomic pointers, and recency is a
// per-entry "referenced" bit (CLOCK eviction) instead of an LRU list that
// every hit would reorder. So a hot token is read by all cores at once.
// Writers (cache misses, which just paid for a signature) serialise on one
// mutex. Nothing is allocated up front: the table doubles and the ring grows
// as entries arrive, up to the capacity.
type Cache struct {
	seed  maphash.Seed
	table atomic.Pointer[cacheTable]
	max   int // capacity

	mu      sync.Mutex    // guards ring, hand, n and table updates
	ring    []*cacheEntry // CLOCK ring, grown up to max; nil slots are free
	hand    int
	n       int // live entries
	maxBkts int // table size at capacity (load factor <= 0.5)
}

type cacheTable struct {
	buckets []atomic.Pointer[[]*cacheEntry]
	mask    uint64
}

type cacheEntry struct {
	key    string
	hash   uint64
	claims *token.Claims
	local  LocalIssuer // the in-process issuer that vouched, nil for other keys
	ref    atomic.Bool // set on a hit, cleared by the CLOCK hand
	slot   int         // index in ring; guarded by Cache.mu
	until  int64       // unix ns the entry dies at, before exp (PutUntil); 0: exp only
}

// NewCache returns a cache holding at most size tokens (capped at
// MaxCacheSize); nil when size <= 0 (caching disabled; a nil *Cache is valid
// and always misses).
func NewCache(size int) *Cache {
	if size <= 0 {
		return nil
	}
	size = min(size, MaxCacheSize)
	n := 1
	for n < 2*size { // load factor <= 0.5: chains stay ~1 entry long
		n <<= 1
	}
	c := &Cache{seed: maphash.MakeSeed(), max: size, maxBkts: n}
	c.table.Store(newTable(min(n, minBuckets)))
	return c
}

func newTable(n int) *cacheTable {
	return &cacheTable{buckets: make([]atomic.Pointer[[]*cacheEntry], n), mask: uint64(n - 1)}
}

func (t *cacheTable) find(tok string, h uint64) *cacheEntry {
	if b := t.buckets[h&t.mask].Load(); b != nil {
		for _, e := range *b {
			if e.hash == h && e.key == tok {
				return e
			}
		}
	}
	return nil
}

// Get returns the cached claims for tok, and the in-process issuer bound to
// them, if they are still usable at now: not expired, and verified by a key
// that is neither retired nor past its source's lease (such entries are
// dropped). It takes no lock and does not allocate.
func (c *Cache) Get(tok string, now time.Time) (*token.Claims, LocalIssuer, bool) {
	if c == nil {
		return nil, nil, false
	}
	h := maphash.String(c.seed, tok)
	e := c.table.Load().find(tok, h)
	if e == nil {
		return nil, nil, false
	}
	if e.claims.ExpiresAt <= now.Unix() || (e.until != 0 && e.until <= now.UnixNano()) ||
		(e.claims.Key != nil && !e.claims.Key.UsableAt(now.UnixNano())) {
		c.remove(e)
		return nil, nil, false
	}
	if !e.ref.Load() { // write only when the bit changes
		e.ref.Store(true)
	}
	return e.claims, e.local, true
}

func (c *Cache) remove(e *cacheEntry) {
	c.mu.Lock()
	c.removeLocked(e)
	c.mu.Unlock()
}

// Put caches verified claims, bound to local (the in-process issuer that
// verified or resolved the token; nil for other keys). Entries never outlive
// the token's exp (Get checks it); when the cache is full, CLOCK evicts an
// entry not referenced since the hand last passed.
func (c *Cache) Put(tok string, claims *token.Claims, local LocalIssuer) {
	c.PutUntil(tok, claims, local, time.Time{})
}

// PutUntil is Put for an entry that also dies at until (the zero time: at
// the token's exp only), e.g. an introspection verdict's cache_ttl.
func (c *Cache) PutUntil(tok string, claims *token.Claims, local LocalIssuer, until time.Time) {
	if c == nil {
		return
	}
	h := maphash.String(c.seed, tok)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.table.Load().find(tok, h); old != nil {
		c.removeLocked(old)
	}
	e := &cacheEntry{key: tok, hash: h, claims: claims, local: local}
	if !until.IsZero() {
		e.until = until.UnixNano()
	}
	c.placeLocked(e)
	c.n++
	t := c.table.Load()
	if 2*c.n > len(t.buckets) && len(t.buckets) < c.maxBkts {
		c.growLocked(t) // links every ring entry, e included
		return
	}
	c.linkLocked(t, e)
}

// linkLocked publishes a new chain with e appended.
func (c *Cache) linkLocked(t *cacheTable, e *cacheEntry) {
	bp := &t.buckets[e.hash&t.mask]
	b := bp.Load()
	var chain []*cacheEntry
	if b != nil {
		chain = make([]*cacheEntry, 0, len(*b)+1)
		chain = append(chain, *b...)
	}
	chain = append(chain, e)
	bp.Store(&chain)
}

// growLocked doubles the table, links every entry of the ring into it and
// publishes it. Readers still holding the old table see a consistent (if
// momentarily stale) snapshot.
func (c *Cache) growLocked(old *cacheTable) {
	t := newTable(min(2*len(old.buckets), c.maxBkts))
	for _, e := range c.ring {
		if e != nil {
			c.linkLocked(t, e)
		}
	}
	c.table.Store(t)
}

// placeLocked gives e a ring slot: a new one while the ring is below
// capacity, else a free one or the first unreferenced entry's, evicting it.
func (c *Cache) placeLocked(e *cacheEntry) {
	if len(c.ring) < c.max {
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
	t := c.table.Load()
	bp := &t.buckets[e.hash&t.mask]
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
	c.n--
}

// Len is the number of cached tokens.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// buckets is the current table size, for tests.
func (c *Cache) buckets() int { return len(c.table.Load().buckets) }
