package issuer

import (
	"net/netip"
	"sync"
	"time"
)

// Sign-in throttling policy. Failed sign-ins are counted per user name and
// per client address (IPv6 by /64) within a window of ThrottleWindow that
// starts at the first failure; from the ThrottleFreePerUser-th failure of a
// name (ThrottleFreePerAddr-th of an address) on, the next attempt must wait
// a delay that doubles with every failure (1s, 2s, 4s, ... at most
// ThrottleMaxDelay). Attempts inside the delay are refused before any
// password hashing. A success resets the name's count, not the address's
// (one valid account must not launder an address's guessing).
const (
	ThrottleWindow       = 15 * time.Minute
	ThrottleFreePerUser  = 5
	ThrottleFreePerAddr  = 20
	ThrottleBaseDelay    = time.Second
	ThrottleMaxDelay     = 15 * time.Minute
	throttleMaxTracked   = 100_000
	throttleKeyUser      = 'u'
	throttleKeyAddrSpace = 'a'
)

type throttleState struct {
	failures int
	first    time.Time // start of the window
	until    time.Time // attempts before this are refused
	// pending counts attempts being checked now (begin to done): their
	// failures are not counted yet, so they count against the free ones.
	pending int
}

// loginThrottle tracks failed sign-ins in memory (per process; a cluster
// multiplies the free attempts by its size).
type loginThrottle struct {
	mu sync.Mutex
	m  map[string]*throttleState
}

func newLoginThrottle() *loginThrottle { return &loginThrottle{m: make(map[string]*throttleState)} }

func userKey(name string) string { return string(rune(throttleKeyUser)) + name }

// addrKey groups IPv6 addresses by /64 (one host usually holds a whole
// /64).
func addrKey(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return string(rune(throttleKeyAddrSpace)) + p.String()
	}
	return string(rune(throttleKeyAddrSpace)) + a.Unmap().String()
}

// wait returns how long the name or the address must still wait (0: may
// try now).
func (t *loginThrottle) wait(name string, addr netip.Addr, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var w time.Duration
	for _, k := range [2]string{userKey(name), addrKey(addr)} {
		if s := t.m[k]; s != nil && now.Before(s.until) {
			w = max(w, s.until.Sub(now))
		}
	}
	return w
}

// begin admits an attempt or returns how long it must wait. Attempts in
// flight count as failures to come: once the free attempts are used up, a
// name (or address) has one password check at a time, so attempts sent
// together cannot all pass before the first failure sets the delay. done,
// called after fail or succeed, ends the attempt.
func (t *loginThrottle) begin(name string, addr netip.Addr, now time.Time) (wait time.Duration, done func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := [2]string{userKey(name), addrKey(addr)}
	frees := [2]int{ThrottleFreePerUser, ThrottleFreePerAddr}
	n := 1
	if addr.IsValid() {
		n = 2
	}
	for j, k := range keys[:n] {
		s := t.m[k]
		if s == nil {
			continue
		}
		if now.Before(s.until) {
			wait = max(wait, s.until.Sub(now))
		} else if s.pending > 0 && s.failures+s.pending >= frees[j] {
			wait = max(wait, ThrottleBaseDelay)
		}
	}
	if wait > 0 {
		return wait, func() {}
	}
	var held [2]*throttleState
	for j, k := range keys[:n] {
		s := t.m[k]
		if s == nil {
			if len(t.m) >= throttleMaxTracked {
				t.sweep(now)
			}
			s = &throttleState{first: now}
			t.m[k] = s
		}
		s.pending++
		held[j] = s
	}
	return 0, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, s := range held[:n] {
			if s.pending > 0 {
				s.pending--
			}
		}
	}
}

// fail records a failed attempt for the name and the address.
func (t *loginThrottle) fail(name string, addr netip.Addr, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(userKey(name), ThrottleFreePerUser, now)
	if addr.IsValid() {
		t.add(addrKey(addr), ThrottleFreePerAddr, now)
	}
}

func (t *loginThrottle) add(k string, free int, now time.Time) {
	s := t.m[k]
	if s != nil && now.Sub(s.first) >= ThrottleWindow && !now.Before(s.until) {
		*s = throttleState{first: now, pending: s.pending} // the window passed: start over
	}
	if s == nil {
		if len(t.m) >= throttleMaxTracked {
			t.sweep(now)
		}
		s = &throttleState{first: now}
		t.m[k] = s
	}
	if s.failures == 0 {
		s.first = now // the window starts at the first failure, not at begin
	}
	s.failures++
	if over := s.failures - free; over >= 0 {
		d := ThrottleMaxDelay
		if over < 20 {
			d = min(ThrottleBaseDelay<<over, ThrottleMaxDelay)
		}
		s.until = now.Add(d)
	}
}

// sweep drops finished entries, then, still full, arbitrary ones that are
// not waiting (a flood of distinct names must not grow memory without
// bound, nor free the names it is delaying).
func (t *loginThrottle) sweep(now time.Time) {
	for k, s := range t.m {
		if now.Sub(s.first) >= ThrottleWindow && !now.Before(s.until) {
			delete(t.m, k)
		}
	}
	for k, s := range t.m {
		if len(t.m) < throttleMaxTracked*9/10 {
			break
		}
		if !now.Before(s.until) {
			delete(t.m, k)
		}
	}
}

// succeed resets the name's count.
func (t *loginThrottle) succeed(name string) {
	t.mu.Lock()
	delete(t.m, userKey(name))
	t.mu.Unlock()
}
