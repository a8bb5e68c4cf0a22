package gateway

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

func claimsUntil(exp int64) *token.Claims { return &token.Claims{ExpiresAt: exp} }

// at is unix second s.
func at(s int64) time.Time { return time.Unix(s, 0) }

func TestCacheBoundAndClockEviction(t *testing.T) {
	c := NewCache(4)
	for i := 0; i < 4; i++ {
		c.Put(fmt.Sprint("t", i), claimsUntil(100), nil)
	}
	// t0 and t2 are used again: CLOCK must evict an unreferenced entry.
	c.Get("t0", at(1))
	c.Get("t2", at(1))
	c.Put("t4", claimsUntil(100), nil)
	if c.Len() != 4 {
		t.Fatalf("Len = %d, want 4", c.Len())
	}
	for _, kept := range []string{"t0", "t2", "t4"} {
		if _, _, ok := c.Get(kept, at(1)); !ok {
			t.Errorf("%s was evicted", kept)
		}
	}
	if _, _, ok1 := c.Get("t1", at(1)); ok1 {
		if _, _, ok3 := c.Get("t3", at(1)); ok3 {
			t.Error("no unreferenced entry was evicted")
		}
	}
	for i := 5; i < 100; i++ {
		c.Put(fmt.Sprint("t", i), claimsUntil(100), nil)
	}
	if c.Len() != 4 {
		t.Fatalf("Len = %d after many puts, want 4", c.Len())
	}
}

func TestCacheReplaceAndExpire(t *testing.T) {
	c := NewCache(10)
	c.Put("a", claimsUntil(10), nil)
	c.Put("a", claimsUntil(20), nil)
	if got, _, ok := c.Get("a", at(15)); !ok || got.ExpiresAt != 20 || c.Len() != 1 {
		t.Fatalf("replaced entry: %v %v len=%d", got, ok, c.Len())
	}
	if _, _, ok := c.Get("a", at(20)); ok {
		t.Fatal("entry served at its exp")
	}
	if c.Len() != 0 {
		t.Fatal("expired entry kept")
	}
	var nilCache *Cache
	nilCache.Put("a", claimsUntil(10), nil)
	if _, _, ok := nilCache.Get("a", at(1)); ok || nilCache.Len() != 0 {
		t.Fatal("nil cache is not empty")
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	c := NewCache(64)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				tok := fmt.Sprint("t", (i*7+g)%200)
				if claims, _, ok := c.Get(tok, at(1)); ok && claims.ExpiresAt != 100 {
					t.Error("wrong claims")
					return
				}
				c.Put(tok, claimsUntil(100), nil)
			}
		}(g)
	}
	wg.Wait()
	if n := c.Len(); n > 64 {
		t.Fatalf("Len = %d exceeds the capacity", n)
	}
}

func TestCacheHitDoesNotAllocate(t *testing.T) {
	c := NewCache(10)
	c.Put("tok", claimsUntil(100), nil)
	if n := testing.AllocsPerRun(1000, func() { c.Get("tok", at(1)) }); n != 0 {
		t.Fatalf("Get allocates %v times", n)
	}
}

// The cache allocates for what it holds, not for its bound: a cache sized
// at the maximum starts with a small table and grows it as entries arrive,
// while hits stay allocation-free.
func TestCacheGrowsLazily(t *testing.T) {
	c := NewCache(MaxCacheSize)
	if c.buckets() != minBuckets || cap(c.ring) != 0 {
		t.Fatalf("eager allocation: %d buckets, ring cap %d", c.buckets(), cap(c.ring))
	}
	for i := 0; i < 1000; i++ {
		c.Put(fmt.Sprint("t", i), claimsUntil(100), nil)
	}
	if c.Len() != 1000 || c.buckets() < 2000 || c.buckets() > 4096 {
		t.Fatalf("after 1000 puts: len %d, %d buckets", c.Len(), c.buckets())
	}
	for i := 0; i < 1000; i++ {
		if _, _, ok := c.Get(fmt.Sprint("t", i), at(1)); !ok {
			t.Fatalf("t%d lost while growing", i)
		}
	}
	if n := testing.AllocsPerRun(100, func() { c.Get("t7", at(1)) }); n != 0 {
		t.Fatalf("Get allocates %v times after growth", n)
	}
	if linked := c.linkedEntries(); linked != c.Len() {
		t.Fatalf("after growth the table links %d entries for %d cached tokens", linked, c.Len())
	}
	// A small cache never grows past its load factor.
	small := NewCache(4)
	for i := 0; i < 100; i++ {
		small.Put(fmt.Sprint("t", i), claimsUntil(100), nil)
	}
	if small.Len() != 4 || small.buckets() != 8 {
		t.Fatalf("small cache: len %d, %d buckets", small.Len(), small.buckets())
	}
	if NewCache(1<<62) == nil || CheckCacheSize(MaxCacheSize+1) == nil || CheckCacheSize(-1) == nil || CheckCacheSize(0) != nil {
		t.Fatal("cache size bounds")
	}
}

// linkedEntries counts the entries the current table links, each chain
// element once: growth must link every entry exactly once.
func (c *Cache) linkedEntries() int {
	n := 0
	t := c.table.Load()
	for i := range t.buckets {
		if b := t.buckets[i].Load(); b != nil {
			n += len(*b)
		}
	}
	return n
}
