package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/authgate/caddy-authgate/token"
)

// Defaults of remote introspection.
const (
	DefaultIntrospectCacheTTL    = 30 * time.Second
	DefaultIntrospectNegativeTTL = 5 * time.Second
	DefaultIntrospectTimeout     = 5 * time.Second
	// IntrospectRetryAfter is the Retry-After (seconds) of a 503 answered
	// because the introspection endpoint failed.
	IntrospectRetryAfter = 5
	// DefaultIntrospectMaxInFlight bounds the calls in flight at once.
	DefaultIntrospectMaxInFlight = 256
)

// IntrospectConfig configures an Introspector.
type IntrospectConfig struct {
	// Endpoint is the RFC 7662 introspection URL.
	Endpoint string
	// ClientID and ClientSecret authenticate the gateway (HTTP Basic,
	// RFC 6749 §2.3.1).
	ClientID, ClientSecret string
	// CacheTTL bounds how long an active verdict is reused; never beyond
	// the token's exp. Zero disables caching of active verdicts.
	CacheTTL time.Duration
	// NegativeTTL is how long an inactive verdict is reused; zero disables.
	NegativeTTL time.Duration
	// Timeout of one introspection call; zero means DefaultIntrospectTimeout.
	Timeout time.Duration
	// CacheSize bounds the cached verdicts (see NewCache); zero disables.
	CacheSize int
	// Client sends the calls; nil means a client that follows no redirects.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives endpoint failures (never a token); nil discards.
	Logger *slog.Logger
	// MaxInFlight bounds the distinct tokens being introspected at once
	// (each a detached call that runs up to Timeout); a miss beyond it is
	// answered unavailable at once, so a flood of made-up tokens cannot
	// pile up calls at the endpoint. Zero means DefaultIntrospectMaxInFlight.
	MaxInFlight int
}

// Introspector resolves opaque tokens through a remote RFC 7662 endpoint.
//
// Verdicts are cached under the SHA-256 of the token, never the token: a
// memory dump of the gateway yields no usable credential. The cache is the
// verified-token Cache (lock-free, allocation-free hits, CLOCK eviction,
// bounded), keyed by the 32-byte digest; an active verdict lives until
// min(now+CacheTTL, exp), an inactive one NegativeTTL.
//
// Concurrent misses of one token share one call (single flight): the first
// starts it, detached from its request so a client hanging up does not fail
// the others, and everyone waits for its answer or their own request's end.
// A failed call (endpoint down, slow, non-200, oversized or malformed answer)
// is never cached and never accepted: it is token.ReasonKeysUnavailable,
// which the gateway answers 503 with Retry-After.
type Introspector struct {
	cfg   IntrospectConfig
	cache *Cache
	form  string // "token_type_hint=access_token&token=" prefix

	mu      sync.Mutex
	flights map[[sha256.Size]byte]*flight
	calls   atomic.Int64
}

type flight struct {
	done   chan struct{}
	claims *token.Claims
	err    error
}

// inactiveVerdict marks a cached {"active": false}: its exp never ends the
// entry, PutUntil's until does.
var inactiveVerdict = &token.Claims{ExpiresAt: math.MaxInt64}

// NewIntrospector checks cfg and builds an Introspector.
func NewIntrospector(cfg IntrospectConfig) (*Introspector, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("introspect: %q is not an absolute http(s) URL", cfg.Endpoint)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("introspect: client_id is required")
	}
	if cfg.CacheTTL < 0 || cfg.NegativeTTL < 0 || cfg.Timeout < 0 {
		return nil, errors.New("introspect: durations must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultIntrospectTimeout
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultIntrospectMaxInFlight
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Introspector{
		cfg: cfg, cache: NewCache(cfg.CacheSize), form: "token_type_hint=access_token&token=",
		flights: map[[sha256.Size]byte]*flight{},
	}, nil
}

// Calls is the number of calls sent to the endpoint so far.
func (in *Introspector) Calls() int64 { return in.calls.Load() }

// digest is the cache key of tok.
func digest(tok string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(tok), len(tok)))
}

// cached returns the cached verdict for the token with digest sum: claims,
// or token.ErrInactive, and whether there was one. It allocates nothing.
func (in *Introspector) cached(sum *[sha256.Size]byte, now time.Time) (*token.Claims, error, bool) {
	c, _, ok := in.cache.Get(unsafe.String(&sum[0], len(sum)), now)
	if !ok {
		return nil, nil, false
	}
	if c == inactiveVerdict {
		return nil, token.ErrInactive, true
	}
	return c, nil, true
}

// Introspect returns the claims of an active token (cached reports a cache
// hit), token.ErrInactive for an inactive one, or a token.Error with reason
// keys_unavailable when the endpoint could not answer.
func (in *Introspector) Introspect(ctx context.Context, tok string) (claims *token.Claims, cached bool, err error) {
	sum := digest(tok)
	return in.resolve(ctx, &sum, tok)
}

func (in *Introspector) resolve(ctx context.Context, sum *[sha256.Size]byte, tok string) (*token.Claims, bool, error) {
	if c, err, ok := in.cached(sum, in.cfg.Now()); ok {
		return c, true, err
	}
	in.mu.Lock()
	// Checked again under the lock: a flight that just ended cached its
	// verdict before leaving the table, so no second call starts for it.
	if c, err, ok := in.cached(sum, in.cfg.Now()); ok {
		in.mu.Unlock()
		return c, true, err
	}
	f := in.flights[*sum]
	if f == nil {
		if len(in.flights) >= in.cfg.MaxInFlight {
			in.mu.Unlock()
			return nil, false, introspectUnavailable(errTooManyInFlight)
		}
		f = &flight{done: make(chan struct{})}
		in.flights[*sum] = f
		go in.fly(*sum, tok, f)
	}
	in.mu.Unlock()
	select {
	case <-f.done:
		return f.claims, false, f.err
	case <-ctx.Done():
		return nil, false, introspectUnavailable(ctx.Err())
	}
}

// fly makes the call for one token, caches its verdict, then releases the
// waiters.
func (in *Introspector) fly(sum [sha256.Size]byte, tok string, f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), in.cfg.Timeout)
	defer cancel()
	claims, err := in.call(ctx, tok)
	now := in.cfg.Now()
	key := string(sum[:])
	switch {
	case err == nil:
		until := now.Add(in.cfg.CacheTTL)
		if exp := time.Unix(claims.ExpiresAt, 0); exp.Before(until) {
			until = exp
		}
		if in.cfg.CacheTTL > 0 && until.After(now) {
			in.cache.PutUntil(key, claims, nil, until)
		}
	case token.IsInactive(err):
		if in.cfg.NegativeTTL > 0 {
			in.cache.PutUntil(key, inactiveVerdict, nil, now.Add(in.cfg.NegativeTTL))
		}
	}
	in.mu.Lock()
	f.claims, f.err = claims, err
	delete(in.flights, sum)
	in.mu.Unlock()
	close(f.done)
}

// call asks the endpoint once. Only a 200 application/json answer the
// strict parser accepts is an answer; everything else is unavailable.
func (in *Introspector) call(ctx context.Context, tok string) (*token.Claims, error) {
	in.calls.Add(1)
	body := in.form + url.QueryEscape(tok)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.Endpoint, strings.NewReader(body))
	if err != nil {
		return nil, introspectUnavailable(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	resp, err := in.cfg.Client.Do(req)
	if err != nil {
		in.cfg.Logger.Warn("introspection endpoint unreachable", "endpoint", in.cfg.Endpoint, "error", err)
		return nil, introspectUnavailable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keep the connection reusable
		in.cfg.Logger.Warn("introspection endpoint refused the call", "endpoint", in.cfg.Endpoint, "status", resp.StatusCode)
		return nil, introspectUnavailable(fmt.Errorf("introspection endpoint answered %s", resp.Status))
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, introspectUnavailable(fmt.Errorf("introspection endpoint answered Content-Type %q", resp.Header.Get("Content-Type")))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, token.MaxIntrospectionBytes+1))
	if err != nil {
		return nil, introspectUnavailable(err)
	}
	claims, err := token.ParseIntrospection(raw)
	var te *token.Error
	if errors.As(err, &te) && (te.Reason == token.ReasonMalformed || te.Reason == token.ReasonOversized) {
		// A broken answer decides nothing about the token: fail closed.
		in.cfg.Logger.Warn("introspection endpoint sent an invalid answer", "endpoint", in.cfg.Endpoint, "error", err)
		return nil, introspectUnavailable(err)
	}
	return claims, err
}

var errTooManyInFlight = errors.New("too many introspection calls in flight")

// unavailableError carries the Retry-After that tokenError puts on the 503.
type unavailableError struct{ err error }

func (e unavailableError) Error() string          { return "introspection failed: " + e.err.Error() }
func (e unavailableError) Unwrap() error          { return e.err }
func (e unavailableError) RetryAfterSeconds() int { return IntrospectRetryAfter }
func introspectUnavailable(err error) error {
	return &token.Error{Reason: token.ReasonKeysUnavailable, Description: "token introspection is unavailable", Err: unavailableError{err}}
}
