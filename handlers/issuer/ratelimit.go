package issuer

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimit is how many tokens a client may be issued per period: a token
// bucket of N, refilled at N per Per, so a client may take N at once and N
// per Per on average. The zero value means no limit.
type RateLimit struct {
	N   int
	Per time.Duration
}

// DefaultRateLimit is the issuance limit of a client that sets none: 600
// tokens per minute (10/s on average, bursts of 600). A client-credentials
// client needs one token per access_token_ttl per instance, so this lets 600
// instances start at once, while a leaked or looping client mints at most
// 36 000 tokens an hour (about 30 MB of store for opaque tokens) instead of
// millions.
var DefaultRateLimit = RateLimit{N: 600, Per: time.Minute}

// Bounds of rate_limit.
const (
	MaxRateLimitN   = 1_000_000
	MinRateLimitPer = time.Second
	MaxRateLimitPer = 24 * time.Hour
)

// ParseRateLimit parses "<n>/<duration>" (e.g. 600/1m, 10/1s) or "off".
// parseDur parses the duration (Caddy's, which also accepts days); nil means
// time.ParseDuration.
func ParseRateLimit(s string, parseDur func(string) (time.Duration, error)) (RateLimit, error) {
	if s == "off" {
		return RateLimit{}, nil
	}
	if parseDur == nil {
		parseDur = time.ParseDuration
	}
	ns, ds, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, fmt.Errorf("rate_limit %q: want <n>/<duration> (e.g. 600/1m) or off", s)
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 || n > MaxRateLimitN {
		return RateLimit{}, fmt.Errorf("rate_limit %q: n must be an integer from 1 to %d", s, MaxRateLimitN)
	}
	per, err := parseDur(ds)
	if err != nil || per < MinRateLimitPer || per > MaxRateLimitPer {
		return RateLimit{}, fmt.Errorf("rate_limit %q: duration must be from %s to %s", s, MinRateLimitPer, MaxRateLimitPer)
	}
	return RateLimit{N: n, Per: per}, nil
}

func (l RateLimit) String() string {
	if l.N == 0 {
		return "off"
	}
	return strconv.Itoa(l.N) + "/" + l.Per.String()
}

// bucket is one client's token bucket. Only configured clients have one,
// so the limiter's memory is bounded by the config.
type bucket struct {
	limit RateLimit

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newBucket(l RateLimit) *bucket {
	if l.N == 0 {
		return nil
	}
	return &bucket{limit: l, tokens: float64(l.N)}
}

// take consumes one issuance at now; when none is left it returns how long
// until one is.
func (b *bucket) take(now time.Time) (ok bool, retry time.Duration) {
	if b == nil {
		return true, 0
	}
	rate := float64(b.limit.N) / float64(b.limit.Per) // per nanosecond
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		if d := now.Sub(b.last); d > 0 {
			b.tokens = min(float64(b.limit.N), b.tokens+float64(d)*rate)
		}
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate)
}

// rateLimited answers a client beyond its issuance limit: 429 with
// Retry-After (whole seconds, at least 1) and RFC 8628's registered
// token-endpoint code slow_down.
func rateLimited(retry time.Duration) *oauthError {
	secs := int64((retry + time.Second - 1) / time.Second)
	return &oauthError{Status: http.StatusTooManyRequests, Code: errSlowDown,
		Description: "token issuance rate limit exceeded", RetryAfter: max(secs, 1)}
}
