package jwkscache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// loaded is what one successful load produced.
type loaded struct {
	url         string       // the JWKS URL fetched
	keys        []*token.Key // nil when notModified
	skipped     []error      // keys of the document that were not usable
	header      http.Header  // response headers, for the lifetime
	notModified bool         // 304: the cached set is confirmed
}

// keyState is an immutable snapshot of a source's key set; the hot path reads
// it with one atomic load.
type keyState struct {
	keys    *token.KeySet
	url     string
	fetched time.Time // last successful fetch (200 or 304)
	expires time.Time // end of the lifetime the server gave
	staleAt time.Time // fetched + MaxStale: not served from then on
}

// flight is one fetch in progress; every waiter shares its outcome.
type flight struct {
	start time.Time // Cache clock when the fetch began
	done  chan struct{}
	err   error         // set before done is closed
	next  time.Duration // delay until the next scheduled attempt
}

// keySource is the machinery shared by Source and Discovered: the current
// set, at most one fetch at a time, the background refresh loop and the
// unknown-kid rate limit.
type keySource struct {
	name string // JWKS URL or issuer, for errors, logs and metrics
	c    *Cache
	o    Options
	load func(ctx context.Context) (*loaded, error) // called only inside a flight, so never concurrently

	state       atomic.Pointer[keyState]
	lease       token.Lease  // every key of the set holds it; runs out at staleAt
	running     atomic.Bool  // background loop active
	nextAttempt atomic.Int64 // unix nanos (Cache clock) of the next due fetch
	ready       chan struct{}

	mu             sync.Mutex
	started        bool
	detached       bool // evicted from the cache: no loop, on-demand refresh only
	readyClosed    bool
	stopLoop       context.CancelFunc
	inflight       *flight
	failures       int
	lastErr        error
	lastKidRefetch time.Time
	lastSkipped    string
}

func (s *keySource) init(name string, c *Cache, o Options, load func(context.Context) (*loaded, error)) {
	s.name, s.c, s.o, s.load = name, c, o, load
	s.ready = make(chan struct{})
}

// log is the cache's current logger, naming this source.
func (s *keySource) log() *slog.Logger { return s.c.logger().With(slog.String("key_source", s.name)) }

// start begins the first fetch and, unless the source was evicted, the
// background loop. Idempotent; it never blocks on the network.
func (s *keySource) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	f := s.beginFlightLocked()
	if f == nil || s.detached || !s.c.goAdd() {
		return
	}
	ctx, cancel := context.WithCancel(s.c.ctx)
	s.stopLoop = cancel
	s.running.Store(true)
	go s.loop(ctx, f)
}

// detach stops the background loop (the cache evicted the source). A holder
// of the source can still use it: it then refreshes on demand.
func (s *keySource) detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.detached = true
	s.running.Store(false)
	if s.stopLoop != nil {
		s.stopLoop()
	}
}

// loop waits for each fetch, then sleeps until the next one is due: the
// refresh point after a success, the backoff after a failure.
func (s *keySource) loop(ctx context.Context, f *flight) {
	defer s.c.wg.Done()
	defer s.running.Store(false)
	for {
		select {
		case <-f.done:
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(f.next)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		s.mu.Lock()
		if s.detached { // evicted while the timer fired
			s.mu.Unlock()
			return
		}
		f = s.beginFlightLocked()
		s.mu.Unlock()
		if f == nil {
			return
		}
	}
}

// beginFlightLocked returns the fetch in progress or starts one; nil once the
// cache is closed. s.mu must be held.
func (s *keySource) beginFlightLocked() *flight {
	if s.inflight != nil {
		return s.inflight
	}
	if !s.c.goAdd() {
		return nil
	}
	f := &flight{start: s.c.now(), done: make(chan struct{})}
	s.inflight = f
	go s.runFlight(f)
	return f
}

func (s *keySource) runFlight(f *flight) {
	defer s.c.wg.Done()
	start := time.Now()
	next, err := s.fetch()
	now := s.c.now()

	s.mu.Lock()
	if err != nil {
		s.failures++
		s.lastErr = err
		next = backoff(s.failures, s.o.MinRefresh)
	} else {
		s.failures = 0
		s.lastErr = nil
	}
	failures := s.failures
	s.nextAttempt.Store(now.Add(next).UnixNano())
	s.mu.Unlock()

	// Log while the flight is still in progress, so that a failure any
	// caller observes has been logged already.
	if err != nil && !s.c.closed.Load() {
		attrs := []any{slog.Any("error", err), slog.Int("consecutive_failures", failures),
			slog.Duration("retry_in", next), slog.Duration("took", time.Since(start))}
		if st := s.state.Load(); st != nil && now.Before(st.staleAt) {
			s.log().Warn("refreshing key set failed; serving the last good set",
				append(attrs, slog.Duration("age", now.Sub(st.fetched)), slog.Time("stale_at", st.staleAt))...)
		} else {
			s.log().Error("fetching key set failed; tokens from this source are rejected until a fetch succeeds", attrs...)
		}
	}

	f.err, f.next = err, next
	s.mu.Lock()
	s.inflight = nil
	if !s.readyClosed {
		s.readyClosed = true
		close(s.ready)
	}
	s.mu.Unlock()
	close(f.done)
}

// fetch loads the document and installs the new set; it returns the delay
// until the next routine refresh.
func (s *keySource) fetch() (time.Duration, error) {
	res, err := s.load(s.c.ctx)
	if err != nil {
		return 0, err
	}
	now := s.c.now()
	old := s.state.Load()
	var set *token.KeySet
	if old != nil {
		set = old.keys
	}
	if res.notModified {
		if old == nil {
			return 0, errors.New("server answered 304 Not Modified but no key set is cached")
		}
	} else {
		merged, removed := token.Reconcile(set, res.keys)
		// Retiring drops tokens verified with these keys from the
		// verified-token cache at once.
		for _, k := range removed {
			k.Retire()
		}
		if old == nil || len(removed) > 0 || merged.Len() != set.Len() {
			s.log().Info("key set updated", slog.String("url", res.url), slog.Int("keys", merged.Len()),
				slog.Int("removed", len(removed)), slog.Any("kids", kids(merged)))
		}
		set = merged
		s.logSkipped(res.skipped)
	}
	// Bind new keys to this source's lease before they are published, so a
	// token they verified, cached or not, stops at staleAt like the set does.
	for _, k := range set.Keys() {
		if k.Lease() == nil {
			k.SetLease(&s.lease)
		}
	}
	s.lease.Set(now.Add(s.o.MaxStale).UnixNano())
	life := lifetime(res.header, now, s.o.MinRefresh, s.o.MaxRefresh)
	s.state.Store(&keyState{keys: set, url: res.url, fetched: now, expires: now.Add(life), staleAt: now.Add(s.o.MaxStale)})
	return refreshDelay(life, s.o.MaxStale), nil
}

// logSkipped warns about unusable keys when the list changes, and only
// debug-logs repeats: many providers publish encryption keys on purpose.
func (s *keySource) logSkipped(skipped []error) {
	msg := fmt.Sprint(skipped)
	s.mu.Lock()
	changed := msg != s.lastSkipped
	s.lastSkipped = msg
	s.mu.Unlock()
	for _, e := range skipped {
		if changed {
			s.log().Warn("key set entry skipped", slog.Any("error", e))
		} else {
			s.log().Debug("key set entry skipped", slog.Any("error", e))
		}
	}
}

func kids(set *token.KeySet) []string {
	out := make([]string, 0, set.Len())
	for _, k := range set.Keys() {
		out = append(out, k.ID)
	}
	return out
}

// refreshDelay schedules the routine refresh at 80-90% of the lifetime (and
// before the set would go stale), jittered so that many gateways do not hit
// an identity provider in lockstep.
func refreshDelay(life, maxStale time.Duration) time.Duration {
	d := min(life, maxStale)
	return time.Duration(float64(d) * (0.8 + 0.1*rand.Float64()))
}

// backoff after n consecutive failures: min(1s, cap) doubling, capped at cap
// (MinRefresh), with up to 10% jitter downwards.
func backoff(n int, cap time.Duration) time.Duration {
	d := min(time.Second, cap)
	for i := 1; i < n && d < cap; i++ {
		d *= 2
	}
	d = min(d, cap)
	return d - time.Duration(rand.Float64()*0.1*float64(d))
}

// resolveKeys is token.KeyResolver. The known-kid path is an atomic load, a
// clock read and a map lookup.
func (s *keySource) resolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	if st := s.state.Load(); st != nil {
		now := s.c.now()
		if now.Before(st.staleAt) {
			if keys := st.keys.Lookup(kid, alg); len(keys) > 0 {
				if !s.running.Load() && now.UnixNano() >= s.nextAttempt.Load() {
					s.refreshOnDemand()
				}
				return keys, nil
			}
			return s.unknownKid(ctx, kid, alg, now)
		}
	}
	return s.noUsableSet(ctx, kid, alg)
}

// refreshOnDemand starts a refresh without waiting for it: an evicted source
// has no loop, so the requests that still use it keep it fresh.
func (s *keySource) refreshOnDemand() {
	if s.c.closed.Load() {
		return
	}
	s.mu.Lock()
	if s.started && s.inflight == nil {
		s.beginFlightLocked()
	}
	s.mu.Unlock()
}

// unknownKid re-fetches once, shared with any fetch already in progress, and
// at most once per RefetchInterval; tokens arriving in between fail fast.
// A fetch that was already running when the token arrived may have read the
// document before the token's key was published: if it does not have the
// kid, the token gets one (rate-limited) fetch of its own.
func (s *keySource) unknownKid(ctx context.Context, kid, alg string, now time.Time) ([]*token.Key, error) {
	for {
		s.mu.Lock()
		f := s.inflight
		if f == nil {
			// A fetch may have finished since the caller looked: its set is
			// stored before inflight is cleared.
			if st := s.state.Load(); st != nil && s.c.now().Before(st.staleAt) {
				if keys := st.keys.Lookup(kid, alg); len(keys) > 0 {
					s.mu.Unlock()
					return keys, nil
				}
			}
			if !s.lastKidRefetch.IsZero() && now.Sub(s.lastKidRefetch) < s.o.RefetchInterval {
				lastErr := s.lastErr
				s.mu.Unlock()
				s.c.obs.UnknownKidRefetch(s.name, true)
				if lastErr != nil {
					// The provider is failing: the kid may be a key rotated
					// in during the outage. Retry later, without a fetch.
					return nil, s.unavailable(fmt.Errorf("unknown kid while the key set cannot be refreshed: %w", lastErr))
				}
				return nil, token.ErrUnknownKey
			}
			if f = s.beginFlightLocked(); f == nil {
				s.mu.Unlock()
				return nil, token.ErrUnknownKey
			}
			s.lastKidRefetch = now
			s.mu.Unlock()
			s.c.obs.UnknownKidRefetch(s.name, false)
		} else {
			s.mu.Unlock()
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, s.unavailable(fmt.Errorf("waiting for key set re-fetch: %w", ctx.Err()))
		}
		if f.err != nil {
			// The kid may belong to a rotated key we could not fetch: answer
			// "unavailable, retry" rather than "invalid token".
			return nil, s.unavailable(fmt.Errorf("unknown kid and re-fetch failed: %w", f.err))
		}
		keys, err := s.lookupAfterFetch(kid, alg)
		if err == nil || !f.start.Before(now) {
			return keys, err
		}
		// The fetch began before this token arrived; the next one cannot.
	}
}

// noUsableSet handles a source that never fetched a set or whose set is
// stale: wait for a fetch in progress (the first one, typically) rather than
// fail at once; otherwise fail closed.
func (s *keySource) noUsableSet(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	s.start()
	s.mu.Lock()
	f := s.inflight
	if f == nil && !s.running.Load() && s.c.now().UnixNano() >= s.nextAttempt.Load() {
		f = s.beginFlightLocked() // evicted source: fetch on demand, within backoff
	}
	s.mu.Unlock()
	if f != nil {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, s.unavailable(fmt.Errorf("waiting for key set fetch: %w", ctx.Err()))
		}
	}
	// Whatever fetch ran (ours, or one that finished before we looked), the
	// state now tells: a usable set, or unavailable with the last error.
	return s.lookupAfterFetch(kid, alg)
}

func (s *keySource) lookupAfterFetch(kid, alg string) ([]*token.Key, error) {
	st := s.state.Load()
	if st == nil || !s.c.now().Before(st.staleAt) {
		return nil, s.unavailable(nil)
	}
	if keys := st.keys.Lookup(kid, alg); len(keys) > 0 {
		return keys, nil
	}
	return nil, token.ErrUnknownKey
}

// unavailable builds the fail-closed error with a retry hint.
func (s *keySource) unavailable(cause error) *UnavailableError {
	now := s.c.now()
	s.mu.Lock()
	lastErr := s.lastErr
	s.mu.Unlock()
	st := s.state.Load()
	var why error
	switch {
	case s.c.closed.Load():
		why = ErrClosed
	case st != nil && now.Before(st.staleAt):
		// The set is usable: only the caller's wait or re-fetch failed.
	case st == nil && lastErr == nil:
		why = errors.New("no key set fetched yet")
	case st == nil:
		why = fmt.Errorf("no key set fetched yet: %w", lastErr)
	case lastErr == nil:
		why = fmt.Errorf("key set is stale: last fetched %s ago (max_stale %s)", now.Sub(st.fetched).Round(time.Second), s.o.MaxStale)
	default:
		why = fmt.Errorf("key set is stale: last fetched %s ago (max_stale %s): %w", now.Sub(st.fetched).Round(time.Second), s.o.MaxStale, lastErr)
	}
	switch {
	case why == nil && cause == nil:
		why = errors.New("no usable key set")
	case why == nil:
		why = cause
	case cause != nil:
		why = fmt.Errorf("%w (%w)", cause, why)
	}
	retry := time.Duration(s.nextAttempt.Load() - now.UnixNano())
	if retry < time.Second {
		retry = time.Second
	}
	return &UnavailableError{URL: s.name, RetryAfter: retry, Err: why}
}

// waitReady waits for the first fetch to finish (or ctx, or Close).
func (s *keySource) waitReady(ctx context.Context) error {
	s.start()
	select {
	case <-s.ready:
	case <-ctx.Done():
		if s.keys() != nil {
			return nil
		}
		return s.unavailable(fmt.Errorf("waiting for the first fetch: %w", ctx.Err()))
	case <-s.c.ctx.Done():
	}
	if s.keys() != nil {
		return nil
	}
	return s.unavailable(nil)
}

// keys returns the set if it is usable (not stale).
func (s *keySource) keys() *token.KeySet {
	st := s.state.Load()
	if st == nil || !s.c.now().Before(st.staleAt) {
		return nil
	}
	return st.keys
}

// Status describes a key source for admin endpoints and metrics.
type Status struct {
	// URL is the JWKS URL the current set came from ("" before any success).
	URL string
	// Keys is the number of keys in the current set.
	Keys int
	// LastSuccess is when a fetch last succeeded (zero if never).
	LastSuccess time.Time
	// Expires is the end of the lifetime the server gave the current set.
	Expires time.Time
	// Stale reports that the set is older than MaxStale and no longer served.
	Stale bool
	// LastError is the last fetch error, "" after a success.
	LastError string
	// ConsecutiveFailures counts failed fetches since the last success.
	ConsecutiveFailures int
	// NextAttempt is when the next fetch is due (zero before the first).
	NextAttempt time.Time
}

func (s *keySource) status() Status {
	var st Status
	if ks := s.state.Load(); ks != nil {
		st.URL, st.Keys, st.LastSuccess, st.Expires = ks.url, ks.keys.Len(), ks.fetched, ks.expires
		st.Stale = !s.c.now().Before(ks.staleAt)
	}
	s.mu.Lock()
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	st.ConsecutiveFailures = s.failures
	s.mu.Unlock()
	if n := s.nextAttempt.Load(); n != 0 {
		st.NextAttempt = time.Unix(0, n)
	}
	return st
}
