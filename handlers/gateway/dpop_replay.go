package gateway

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultReplayCacheSize bounds the in-memory DPoP replay cache: proofs
// remembered at once (about 100 bytes each). At the default proof window
// (65 s) it holds about 3000 DPoP requests per second.
const DefaultReplayCacheSize = 200_000

// replayBucketSeconds is the width of one expiry bucket.
const replayBucketSeconds = 10

// ErrReplayCacheFull is returned when the replay cache holds its bound of
// unexpired markers: the proof is refused (fail closed, 503) rather than a
// marker forgotten early, which would let its proof be replayed.
var ErrReplayCacheFull = errors.New("DPoP replay cache is full")

// ReplayCache is a bounded in-memory token.ReplayMarker for one process:
// markers are kept in buckets by expiry, whole buckets dropped once expired,
// so neither insertion nor expiry ever scans the markers.
type ReplayCache struct {
	mu      sync.Mutex
	max     int
	n       int
	buckets map[int64]map[string]struct{} // by until / replayBucketSeconds
	now     func() time.Time
}

// NewReplayCache returns a cache of at most max markers (default when <= 0).
func NewReplayCache(max int, now func() time.Time) *ReplayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	if now == nil {
		now = time.Now
	}
	return &ReplayCache{max: max, buckets: map[int64]map[string]struct{}{}, now: now}
}

// MarkUsed implements token.ReplayMarker.
func (c *ReplayCache) MarkUsed(_ context.Context, key string, until time.Time) (bool, error) {
	now := c.now().Unix()
	c.mu.Lock()
	defer c.mu.Unlock()
	for b, set := range c.buckets {
		if (b+1)*replayBucketSeconds <= now { // every marker in it has expired
			c.n -= len(set)
			delete(c.buckets, b)
			continue
		}
		if _, seen := set[key]; seen {
			return false, nil
		}
	}
	if c.n >= c.max {
		return false, ErrReplayCacheFull
	}
	b := until.Unix() / replayBucketSeconds
	set := c.buckets[b]
	if set == nil {
		set = map[string]struct{}{}
		c.buckets[b] = set
	}
	set[key] = struct{}{}
	c.n++
	return true, nil
}
