package jwkscache

import (
	"context"
	"fmt"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

const acceptJWKS = "application/jwk-set+json, application/json;q=0.9"

// Source is a key set fetched from a JWKS URL. It implements
// token.KeyResolver and is safe for concurrent use. Get one from Cache.JWKS.
type Source struct {
	ks     keySource
	loader jwksLoader
}

func newSource(c *Cache, url string, o Options) *Source {
	s := &Source{loader: jwksLoader{c: c, o: o, url: url}}
	s.ks.init(url, c, o, s.loader.load)
	return s
}

// URL is the JWKS URL.
func (s *Source) URL() string { return s.loader.url }

// Start begins the first fetch and the background refresh, without waiting.
// It is idempotent; the first ResolveKeys or WaitReady calls it too.
func (s *Source) Start() { s.ks.start() }

// WaitReady starts the source and waits until its first fetch finished or ctx
// ends. It returns nil when a key set is available, else an
// *UnavailableError; background retries continue either way.
func (s *Source) WaitReady(ctx context.Context) error { return s.ks.waitReady(ctx) }

// Keys returns the current key set, or nil if none was fetched or it is stale.
func (s *Source) Keys() *token.KeySet { return s.ks.keys() }

// ResolveKeys implements token.KeyResolver: the keys matching kid and alg,
// token.ErrUnknownKey when none match (after at most one rate-limited
// re-fetch), or an *UnavailableError when the source has no usable set.
func (s *Source) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	return s.ks.resolveKeys(ctx, kid, alg)
}

// Status describes the source's last fetches.
func (s *Source) Status() Status { return s.ks.status() }

func (s *Source) detach() { s.ks.detach() }

// jwksLoader fetches one JWKS URL, conditionally once it has a set.
type jwksLoader struct {
	c    *Cache
	o    Options
	url  string
	cond validators // only touched inside a flight
}

func (l *jwksLoader) load(ctx context.Context) (*loaded, error) {
	start := time.Now()
	resp, err := get(ctx, l.c.client, l.url, acceptJWKS, l.o, l.cond)
	if err != nil {
		l.c.obs.Fetched(l.url, ResultError, 0, time.Since(start))
		return nil, fmt.Errorf("fetching JWKS %s: %w", l.url, err)
	}
	if resp.notModified {
		l.c.obs.Fetched(l.url, ResultNotModified, 0, time.Since(start))
		return &loaded{url: l.url, header: resp.header, notModified: true}, nil
	}
	keys, skipped, err := token.ParseJWKS(resp.body, l.url)
	if err != nil {
		l.c.obs.Fetched(l.url, ResultError, 0, time.Since(start))
		return nil, err
	}
	l.cond = validators{etag: resp.header.Get("ETag"), lastModified: resp.header.Get("Last-Modified")}
	l.c.obs.Fetched(l.url, ResultOK, len(keys), time.Since(start))
	return &loaded{url: l.url, keys: keys, skipped: skipped, header: resp.header}, nil
}

var _ token.KeyResolver = (*Source)(nil)
