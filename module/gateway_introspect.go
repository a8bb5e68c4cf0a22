package module

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/jwkscache"
)

// IntrospectConfig sends opaque tokens (no dots) to a remote RFC 7662
// introspection endpoint; JWTs keep the local path. Verdicts are cached by
// a hash of the token; the endpoint failing or being slow answers 503 with
// Retry-After, never lets a request through.
type IntrospectConfig struct {
	// URL of the introspection endpoint. Plain http only to loopback,
	// unless insecure_http (the token and the secret travel in it).
	URL string `json:"url"`
	// ClientID the gateway authenticates as (HTTP Basic).
	ClientID string `json:"client_id"`
	// ClientSecret of that client. Accepts `{env.NAME}` and `{file.PATH}`.
	ClientSecret string `json:"client_secret,omitempty"`
	// CacheTTL: how long an active verdict is reused, never beyond the
	// token's exp. It is also how long a token revoked at the provider may
	// still pass. Default 30s; 0 (ask every time) to 1h.
	CacheTTL *caddy.Duration `json:"cache_ttl,omitempty"`
	// NegativeCacheTTL: how long an inactive verdict is reused. Default 5s;
	// 0 to 1h.
	NegativeCacheTTL *caddy.Duration `json:"negative_cache_ttl,omitempty"`
	// Timeout of one introspection call. Default 5s; 100ms to 1m.
	Timeout *caddy.Duration `json:"timeout,omitempty"`
	// CacheSize bounds the cached verdicts. Default 10000; 0 to 1000000.
	CacheSize *int `json:"cache_size,omitempty"`
}

// Bounds of the introspect knobs.
const (
	maxIntrospectTTL     = time.Hour
	minIntrospectTimeout = 100 * time.Millisecond
	maxIntrospectTimeout = time.Minute
)

func (c *IntrospectConfig) durations() (ttl, neg, timeout time.Duration) {
	ttl, neg, timeout = gateway.DefaultIntrospectCacheTTL, gateway.DefaultIntrospectNegativeTTL, gateway.DefaultIntrospectTimeout
	if c.CacheTTL != nil {
		ttl = time.Duration(*c.CacheTTL)
	}
	if c.NegativeCacheTTL != nil {
		neg = time.Duration(*c.NegativeCacheTTL)
	}
	if c.Timeout != nil {
		timeout = time.Duration(*c.Timeout)
	}
	return ttl, neg, timeout
}

func (c *IntrospectConfig) cacheSize() int {
	if c.CacheSize == nil {
		return gateway.DefaultCacheSize
	}
	return *c.CacheSize
}

// validate checks every value; insecure is the gateway's insecure_http.
func (c *IntrospectConfig) validate(insecure bool) error {
	if err := jwkscache.CheckURL(c.URL); err != nil {
		return fmt.Errorf("introspect: %w", err)
	}
	if jwkscache.Cleartext(c.URL) && !insecure {
		return fmt.Errorf("introspect %q uses plain http to a non-loopback host, so tokens and the client secret travel in cleartext; use https, or set insecure_http to accept the risk", c.URL)
	}
	if c.ClientID == "" {
		return errors.New("introspect: client_id is required")
	}
	ttl, neg, timeout := c.durations()
	if err := errors.Join(checkIntrospectDuration("cache_ttl", ttl), checkIntrospectDuration("negative_cache_ttl", neg),
		checkIntrospectDuration("timeout", timeout)); err != nil {
		return err
	}
	if err := gateway.CheckCacheSize(c.cacheSize()); err != nil {
		return fmt.Errorf("introspect: %w", err)
	}
	return nil
}

// checkIntrospectDuration checks one duration knob against its bounds.
func checkIntrospectDuration(name string, d time.Duration) error {
	lo, hi := time.Duration(0), maxIntrospectTTL
	if name == "timeout" {
		lo, hi = minIntrospectTimeout, maxIntrospectTimeout
	}
	if d < lo || d > hi {
		return fmt.Errorf("introspect: %s %s is out of range: must be between %s and %s", name,
			jwkscache.FormatDuration(d), jwkscache.FormatDuration(lo), jwkscache.FormatDuration(hi))
	}
	return nil
}

// introspectors pools introspectors (and their caches) across reloads, keyed
// by everything that shapes a verdict, the secret by its hash.
var introspectors = caddy.NewUsagePool()

type pooledIntrospector struct{ *gateway.Introspector }

func (pooledIntrospector) Destruct() error { return nil }

// introspector returns the shared introspector for c and its release.
func (c *IntrospectConfig) introspector() (*gateway.Introspector, func(), error) {
	secret, err := caddy.NewReplacer().ReplaceOrErr(c.ClientSecret, true, true)
	if err != nil {
		return nil, nil, fmt.Errorf("authgate: introspect client_secret: %w", err)
	}
	ttl, neg, timeout := c.durations()
	cfg := gateway.IntrospectConfig{
		Endpoint: c.URL, ClientID: c.ClientID, ClientSecret: secret,
		CacheTTL: ttl, NegativeTTL: neg, Timeout: timeout, CacheSize: c.cacheSize(),
	}
	key := fmt.Sprintf("%q %q %x %d %d %d %d", cfg.Endpoint, cfg.ClientID, sha256.Sum256([]byte(secret)), ttl, neg, timeout, cfg.CacheSize)
	v, _, err := introspectors.LoadOrNew(key, func() (caddy.Destructor, error) {
		in, err := gateway.NewIntrospector(cfg)
		return pooledIntrospector{in}, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("authgate: %w", err)
	}
	return v.(pooledIntrospector).Introspector, func() { _, _ = introspectors.Delete(key) }, nil
}

// parseIntrospect reads
//
//	introspect <url> {
//		client_id <id>
//		client_secret <secret>
//		cache_ttl <duration>
//		negative_cache_ttl <duration>
//		timeout <duration>
//		cache_size <n>
//	}
func (g *Gateway) parseIntrospect(d *caddyfile.Dispenser) error {
	u, err := argOneKeepBlock(d)
	if err != nil {
		return err
	}
	if err := jwkscache.CheckURL(u); err != nil {
		return d.Errf("introspect: %v", err)
	}
	c := &IntrospectConfig{URL: u}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("duplicate introspect option %q", opt)
		}
		seen[opt] = true
		switch opt {
		case "client_id":
			c.ClientID, err = argOne(d)
		case "client_secret":
			c.ClientSecret, err = argOne(d)
		case "cache_ttl", "negative_cache_ttl", "timeout":
			var dur caddy.Duration
			if dur, err = argDuration(d); err == nil {
				if err := checkIntrospectDuration(opt, time.Duration(dur)); err != nil {
					return d.Err(err.Error())
				}
				switch opt {
				case "cache_ttl":
					c.CacheTTL = &dur
				case "negative_cache_ttl":
					c.NegativeCacheTTL = &dur
				default:
					c.Timeout = &dur
				}
			}
		case "cache_size":
			var s string
			if s, err = argOne(d); err == nil {
				n, convErr := strconv.Atoi(s)
				if convErr != nil || gateway.CheckCacheSize(n) != nil {
					return d.Errf("introspect cache_size must be an integer from 0 to %d, got %q", gateway.MaxCacheSize, s)
				}
				c.CacheSize = &n
			}
		default:
			return d.Errf("unknown introspect option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	if c.ClientID == "" {
		return d.Errf("introspect %s needs client_id", u)
	}
	g.Introspect = c
	return nil
}
