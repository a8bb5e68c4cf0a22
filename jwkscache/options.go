package jwkscache

import (
	"errors"
	"fmt"
	"strings"
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

// bounds are the accepted ranges of the configurable durations, by their
// config names. Too short turns a gateway into a load generator against the
// identity provider (a refresh or refetch every millisecond, a fetch that
// gives up before a TLS handshake); too long means a rotation or an outage
// is never noticed, or a stuck fetch holds a goroutine for hours.
var bounds = map[string][2]time.Duration{
	"timeout":          {100 * time.Millisecond, time.Minute},
	"refresh_min":      {time.Second, 24 * time.Hour},
	"refresh_max":      {time.Second, 7 * 24 * time.Hour},
	"refetch_interval": {time.Second, time.Hour},
	"max_stale":        {time.Second, 30 * 24 * time.Hour},
}

// CheckBound reports whether d is an acceptable value of the knob name
// (timeout, refresh_min, refresh_max, refetch_interval, max_stale). Zero
// means "default" and is accepted; negative values never are.
func CheckBound(name string, d time.Duration) error {
	if _, ok := bounds[name]; !ok {
		return fmt.Errorf("unknown option %q", name)
	}
	if d == 0 {
		return nil
	}
	return CheckWrittenBound(name, d)
}

// CheckWrittenBound is CheckBound for a value the user wrote (a Caddyfile
// option): 0 is out of range too. An unset JSON field is 0 and means the
// default, so a written "max_stale 0s" would silently mean 24h, not "never
// stale".
func CheckWrittenBound(name string, d time.Duration) error {
	b, ok := bounds[name]
	if !ok {
		return fmt.Errorf("unknown option %q", name)
	}
	if d < b[0] || d > b[1] {
		return fmt.Errorf("%s %s is out of range: must be between %s and %s", name, FormatDuration(d), FormatDuration(b[0]), FormatDuration(b[1]))
	}
	return nil
}

// FormatDuration is d.String() without trailing zero units ("24h", not
// "24h0m0s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Validate reports durations outside their bounds (see CheckBound) and
// MinRefresh > MaxRefresh, for config validation; WithDefaults silently
// repairs what it can.
func (o Options) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"timeout", o.Timeout}, {"refresh_min", o.MinRefresh}, {"refresh_max", o.MaxRefresh},
		{"refetch_interval", o.RefetchInterval}, {"max_stale", o.MaxStale},
	} {
		if err := CheckBound(f.name, f.d); err != nil {
			errs = append(errs, err)
		}
	}
	if o.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max body size must not be negative (got %d)", o.MaxBodyBytes))
	}
	if o.MinRefresh > 0 && o.MaxRefresh > 0 && o.MinRefresh > o.MaxRefresh {
		errs = append(errs, fmt.Errorf("refresh_min %s exceeds refresh_max %s", FormatDuration(o.MinRefresh), FormatDuration(o.MaxRefresh)))
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
