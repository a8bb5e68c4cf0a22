package jwkscache

import (
	"errors"
	"fmt"
	"time"
)

// Defaults applied by Options.WithDefaults to zero (or negative) fields.
const (
	DefaultTimeout         = 10 * time.Second
	DefaultMinRefresh      = 5 * time.Minute
	DefaultMaxRefresh      = 24 * time.Hour
	DefaultRefetchInterval = 30 * time.Second
	DefaultMaxStale        = 24 * time.Hour
	DefaultMaxBodyBytes    = 1 << 20
	// DefaultLifetime is a key set's lifetime when the server sends neither
	// Cache-Control nor Expires (before clamping to [MinRefresh, MaxRefresh]).
	DefaultLifetime = time.Hour
)

// Options tunes one key source. The zero value means "all defaults".
type Options struct {
	// Timeout bounds each HTTP request (connect, headers and body). Default 10s.
	Timeout time.Duration
	// MinRefresh is the shortest lifetime given to a fetched key set (servers
	// saying no-store, no-cache or max-age=0 get this) and the cap of the
	// retry backoff after failures. Default 5m.
	MinRefresh time.Duration
	// MaxRefresh is the longest lifetime given to a fetched key set. Default 24h.
	MaxRefresh time.Duration
	// RefetchInterval is the least time between two re-fetches caused by
	// tokens with an unknown kid. Default 30s.
	RefetchInterval time.Duration
	// MaxStale is how long after the last successful fetch the last good key
	// set keeps serving while refreshes fail. Default 24h.
	MaxStale time.Duration
	// MaxBodyBytes caps a fetched document; larger ones are an error, never
	// parsed truncated. Default 1 MiB.
	MaxBodyBytes int64
}

// WithDefaults returns o with every zero or negative field set to its default,
// and MaxRefresh raised to MinRefresh if it was lower.
func (o Options) WithDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, DefaultTimeout)
	def(&o.MinRefresh, DefaultMinRefresh)
	def(&o.MaxRefresh, DefaultMaxRefresh)
	def(&o.RefetchInterval, DefaultRefetchInterval)
	def(&o.MaxStale, DefaultMaxStale)
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxRefresh < o.MinRefresh {
		o.MaxRefresh = o.MinRefresh
	}
	return o
}

// Validate reports negative durations and MinRefresh > MaxRefresh, for config
// validation; WithDefaults silently repairs both.
func (o Options) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"timeout", o.Timeout}, {"min_refresh", o.MinRefresh}, {"max_refresh", o.MaxRefresh},
		{"refetch_interval", o.RefetchInterval}, {"max_stale", o.MaxStale},
	} {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative (got %s)", f.name, f.d))
		}
	}
	if o.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max body size must not be negative (got %d)", o.MaxBodyBytes))
	}
	if o.MinRefresh > 0 && o.MaxRefresh > 0 && o.MinRefresh > o.MaxRefresh {
		errs = append(errs, fmt.Errorf("min_refresh %s exceeds max_refresh %s", o.MinRefresh, o.MaxRefresh))
	}
	return errors.Join(errs...)
}

// Key is a canonical string for o (after defaults), so that sources with equal
// effective options share one cache entry. The Cache combines it with the URL.
func (o Options) Key() string {
	o = o.WithDefaults()
	return fmt.Sprintf("timeout=%s;min_refresh=%s;max_refresh=%s;refetch_interval=%s;max_stale=%s;max_body=%d",
		o.Timeout, o.MinRefresh, o.MaxRefresh, o.RefetchInterval, o.MaxStale, o.MaxBodyBytes)
}
