package module

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/jwkscache"
)

// Process-wide state that must survive config reloads lives in usage pools:
// a reload provisions the new handlers (taking a reference) before the old
// ones clean up (dropping theirs), so caches are neither dropped nor refilled.
var (
	tokenCaches = caddy.NewUsagePool()
	jwksCaches  = caddy.NewUsagePool()
	keySources  = caddy.NewUsagePool()
)

type pooledTokenCache struct{ *gateway.Cache }

func (pooledTokenCache) Destruct() error { return nil }

// sharedTokenCache returns the verified-token cache for handlers whose key
// sources have this fingerprint, and the function that releases it.
func sharedTokenCache(fingerprint string, size int) (*gateway.Cache, func(), error) {
	if size == 0 {
		return nil, func() {}, nil
	}
	key := fmt.Sprintf("%s/%d", fingerprint, size)
	v, _, err := tokenCaches.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledTokenCache{gateway.NewCache(size)}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return v.(pooledTokenCache).Cache, func() { _, _ = tokenCaches.Delete(key) }, nil
}

type pooledJWKSCache struct{ *jwkscache.Cache }

func (p pooledJWKSCache) Destruct() error {
	p.Close()
	return nil
}

// sharedJWKSCache returns the process-wide JWKS cache. Its key sets are
// keyed by URL + options inside, held in a bounded LRU, and kept across
// reloads; the last release stops every background refresh. It logs to the
// newest config's logger, never to the closed sink of one that went.
func sharedJWKSCache(ctx caddy.Context) (*jwkscache.Cache, func(), error) {
	const key = "jwks"
	v, _, err := jwksCaches.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledJWKSCache{jwkscache.NewCache(jwkscache.CacheConfig{Observer: jwksMetricsObserver{}})}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	c := v.(pooledJWKSCache).Cache
	c.SetLogger(ctx.Slogger())
	return c, func() { _, _ = jwksCaches.Delete(key) }, nil
}

// sourceRef counts the configs that use one key source. When the last one
// goes (a reload removed the issuer or JWKS URL), the source is dropped
// from the cache and stops refreshing; a reload that keeps it never drops it.
type sourceRef struct{ drop func() }

func (r sourceRef) Destruct() error {
	r.drop()
	return nil
}

// holdSource takes a reference on the source named key and returns its
// release.
func holdSource(key string, drop func()) (func(), error) {
	if _, _, err := keySources.LoadOrNew(key, func() (caddy.Destructor, error) {
		return sourceRef{drop}, nil
	}); err != nil {
		return nil, err
	}
	return func() { _, _ = keySources.Delete(key) }, nil
}
