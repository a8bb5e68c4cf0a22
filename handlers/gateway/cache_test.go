package gateway

import (
	"fmt"
	"sync"
	"testing"

	"github.com/authgate/caddy-authgate/token"
)

func claimsUntil(exp int64) *token.Claims { return &token.Claims{ExpiresAt: exp} }

func TestCacheBoundAndClockEviction(t *testing.T) {
	c := NewCache(4)
	for i := 0; i < 4; i++ {
		c.Put(fmt.Sprint("t", i), claimsUntil(100))
	}
	// t0 and t2 are used again: CLOCK must evict an unreferenced entry.
	c.Get("t0", 1)
	c.Get("t2", 1)
	c.Put("t4", claimsUntil(100))
	if c.Len() != 4 {
		t.Fatalf("Len = %d, want 4", c.Len())
	}
	for _, kept := range []string{"t0", "t2", "t4"} {
		if _, ok := c.Get(kept, 1); !ok {
			t.Errorf("%s was evicted", kept)
		}
	}
	if _, ok1 := c.Get("t1", 1); ok1 {
		if _, ok3 := c.Get("t3", 1); ok3 {
			t.Error("no unreferenced entry was evicted")
		}
	}
	for i := 5; i < 100; i++ {
		c.Put(fmt.Sprint("t", i), claimsUntil(100))
	}
	if c.Len() != 4 {
		t.Fatalf("Len = %d after many puts, want 4", c.Len())
	}
}

func TestCacheReplaceAndExpire(t *testing.T) {
	c := NewCache(10)
	c.Put("a", claimsUntil(10))
	c.Put("a", claimsUntil(20))
	if got, ok := c.Get("a", 15); !ok || got.ExpiresAt != 20 || c.Len() != 1 {
		t.Fatalf("replaced entry: %v %v len=%d", got, ok, c.Len())
	}
	if _, ok := c.Get("a", 20); ok {
		t.Fatal("entry served at its exp")
	}
	if c.Len() != 0 {
		t.Fatal("expired entry kept")
	}
	var nilCache *Cache
	nilCache.Put("a", claimsUntil(10))
	if _, ok := nilCache.Get("a", 1); ok || nilCache.Len() != 0 {
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
				if claims, ok := c.Get(tok, 1); ok && claims.ExpiresAt != 100 {
					t.Error("wrong claims")
					return
				}
				c.Put(tok, claimsUntil(100))
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
	c.Put("tok", claimsUntil(100))
	if n := testing.AllocsPerRun(1000, func() { c.Get("tok", 1) }); n != 0 {
		t.Fatalf("Get allocates %v times", n)
	}
}
