package jwkscache

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultMaxSources bounds a Cache when CacheConfig.MaxSources is zero.
const DefaultMaxSources = 1000

// Fetch results reported to Observer.Fetched.
const (
	ResultOK          = "ok"           // document fetched and parsed
	ResultNotModified = "not_modified" // 304 to a conditional request; set confirmed
	ResultError       = "error"        // network, status, type, size or parse failure
)

// Observer receives metrics events; the module wires Prometheus into it.
// Methods are called from fetch goroutines and request paths, so they must
// be safe for concurrent use and cheap. Key set age is available from
// Status().LastSuccess.
type Observer interface {
	// Fetched reports one HTTP document fetch (JWKS or discovery metadata)
	// with its result (ResultOK, ResultNotModified, ResultError), the number
	// of usable keys (0 for metadata and failures) and its duration.
	Fetched(url, result string, keys int, dur time.Duration)
	// UnknownKidRefetch reports a token with an unknown kid: suppressed is
	// true when the re-fetch was skipped by the RefetchInterval limit.
	UnknownKidRefetch(url string, suppressed bool)
}

type nopObserver struct{}

func (nopObserver) Fetched(string, string, int, time.Duration) {}
func (nopObserver) UnknownKidRefetch(string, bool)             {}

// CacheConfig configures a Cache. Every field is optional.
type CacheConfig struct {
	// MaxSources bounds how many sources (JWKS URLs and issuers, per
	// Options) the cache holds; the least recently requested is evicted and
	// its background refresh stops. Default 1000.
	MaxSources int
	// Client performs the fetches; its Transport is kept, its redirect policy
	// replaced (at most 3 redirects, never https to http). Default: a client
	// with 10s connect, TLS and header timeouts.
	Client *http.Client
	// Logger receives fetch failures (warn/error), key set changes (info) and
	// skipped keys (warn). Default: no logging. SetLogger replaces it.
	Logger *slog.Logger
	// Observer receives metrics events. Default: none.
	Observer Observer
	// Now is the clock for lifetimes and staleness (tests). Default time.Now.
	// Background timers always run on real time.
	Now func() time.Time
}

// Cache holds key sources in a bounded LRU and owns their background work.
// It is safe for concurrent use. Sources are shared: asking twice for the
// same URL (or issuer) and effective Options returns the same one.
type Cache struct {
	client *http.Client
	log    atomic.Pointer[slog.Logger]
	obs    Observer
	now    func() time.Time
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool

	mu      sync.Mutex // makes get-or-create atomic
	sources *lru.Cache[string, entry]

	goMu    sync.Mutex // leaf lock: orders goroutine starts against Close
	stopped bool
	wg      sync.WaitGroup
}

// entry is a cached source; detach stops its background loop on eviction.
type entry interface{ detach() }

// NewCache returns an empty cache. It fetches nothing.
func NewCache(cfg CacheConfig) *Cache {
	c := &Cache{client: newHTTPClient(cfg.Client), obs: cfg.Observer, now: cfg.Now}
	c.SetLogger(cfg.Logger)
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	size := cfg.MaxSources
	if size <= 0 {
		size = DefaultMaxSources
	}
	// Eviction runs outside the LRU's lock; detach takes only the source's.
	c.sources, _ = lru.NewWithEvict(size, func(key string, e entry) {
		c.logger().Debug("key source evicted; background refresh stopped", slog.String("key", key))
		e.detach()
	})
	return c
}

// SetLogger makes l (nil: no logging) receive every later log line of the
// cache and its sources. A cache that outlives the config that created it
// (the module keeps one across reloads) is given each new config's logger,
// so it never writes to a closed config's log sink.
func (c *Cache) SetLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	c.log.Store(l)
}

func (c *Cache) logger() *slog.Logger { return c.log.Load() }

// JWKS returns the source for a JWKS URL with options o, creating it if
// needed. It does not fetch: call Start, WaitReady or ResolveKeys.
func (c *Cache) JWKS(url string, o Options) *Source {
	o = o.WithDefaults()
	e := c.getOrCreate(jwksKey(url, o), func() entry { return newSource(c, url, o) })
	return e.(*Source)
}

// Discovery returns the source for an issuer's discovered JWKS with options
// o, creating it if needed. It does not fetch: jwks_uri is resolved on Start,
// WaitReady or the first ResolveKeys.
func (c *Cache) Discovery(issuer string, o Options) *Discovered {
	o = o.WithDefaults()
	e := c.getOrCreate(discoveryKey(issuer, o), func() entry { return newDiscovered(c, issuer, o) })
	return e.(*Discovered)
}

// DropJWKS forgets the source for url and o and stops its background
// refresh, for a config that no longer uses it. A caller still holding the
// source can keep using it, as with an LRU eviction.
func (c *Cache) DropJWKS(url string, o Options) {
	c.sources.Remove(jwksKey(url, o.WithDefaults()))
}

// DropDiscovery is DropJWKS for a discovered issuer.
func (c *Cache) DropDiscovery(issuer string, o Options) {
	c.sources.Remove(discoveryKey(issuer, o.WithDefaults()))
}

// jwksKey and discoveryKey name a source in the LRU (o with defaults).
func jwksKey(url string, o Options) string         { return "jwks\x00" + url + "\x00" + o.Key() }
func discoveryKey(issuer string, o Options) string { return "issuer\x00" + issuer + "\x00" + o.Key() }

func (c *Cache) getOrCreate(key string, create func() entry) entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.sources.Get(key); ok {
		return e
	}
	e := create()
	if !c.closed.Load() { // a closed cache hands out sources that never fetch
		c.sources.Add(key, e)
	}
	return e
}

// Len is the number of sources held.
func (c *Cache) Len() int { return c.sources.Len() }

// Close stops all background work and waits for it to end. Sources keep
// serving the sets they have (until MaxStale) but never fetch again.
func (c *Cache) Close() {
	c.goMu.Lock()
	c.stopped = true
	c.goMu.Unlock()
	c.closed.Store(true)
	c.cancel()
	c.mu.Lock()
	c.sources.Purge()
	c.mu.Unlock()
	c.wg.Wait()
}

// goAdd registers a goroutine about to start; false once closed.
func (c *Cache) goAdd() bool {
	c.goMu.Lock()
	defer c.goMu.Unlock()
	if c.stopped {
		return false
	}
	c.wg.Add(1)
	return true
}
