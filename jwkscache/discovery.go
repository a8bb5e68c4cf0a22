package jwkscache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// Discovered is a key set found through an issuer's metadata: OpenID Connect
// discovery (<issuer>/.well-known/openid-configuration), falling back to
// RFC 8414 (/.well-known/oauth-authorization-server). The metadata's issuer
// must equal the configured one exactly (mix-up defence) and its jwks_uri
// must be https (http only for a loopback host or an http issuer).
//
// jwks_uri is resolved on the first fetch, not at construction, and
// re-discovered once the metadata's lifetime ends; if re-discovery fails the
// previous jwks_uri stays in use. Discovered implements token.KeyResolver and
// is safe for concurrent use. Get one from Cache.Discovery.
type Discovered struct {
	ks     keySource
	loader discoveryLoader
}

func newDiscovered(c *Cache, issuer string, o Options) *Discovered {
	d := &Discovered{loader: discoveryLoader{c: c, o: o, issuer: issuer}}
	d.ks.init(issuer, c, o, d.loader.load)
	d.loader.log = d.ks.log
	return d
}

// Issuer is the configured issuer.
func (d *Discovered) Issuer() string { return d.loader.issuer }

// JWKSURI is the jwks_uri found by discovery, "" before the first success.
func (d *Discovered) JWKSURI() string {
	if p := d.loader.jwksURI.Load(); p != nil {
		return *p
	}
	return ""
}

// Start begins discovery, the first fetch and the background refresh,
// without waiting. It is idempotent; the first ResolveKeys or WaitReady
// calls it too.
func (d *Discovered) Start() { d.ks.start() }

// WaitReady starts the source and waits until its first fetch finished or ctx
// ends. It returns nil when a key set is available, else an
// *UnavailableError; background retries continue either way.
func (d *Discovered) WaitReady(ctx context.Context) error { return d.ks.waitReady(ctx) }

// Keys returns the current key set, or nil if none was fetched or it is stale.
func (d *Discovered) Keys() *token.KeySet { return d.ks.keys() }

// ResolveKeys implements token.KeyResolver, like Source.ResolveKeys.
func (d *Discovered) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	return d.ks.resolveKeys(ctx, kid, alg)
}

// Status describes the source's last fetches.
func (d *Discovered) Status() Status { return d.ks.status() }

func (d *Discovered) detach() { d.ks.detach() }

// discoveryLoader resolves jwks_uri, then fetches the JWKS.
type discoveryLoader struct {
	c       *Cache
	o       Options
	issuer  string
	log     func() *slog.Logger
	jwksURI atomic.Pointer[string] // read by JWKSURI

	// Only touched inside a flight.
	jwks       *jwksLoader
	docExpires time.Time
}

func (d *discoveryLoader) load(ctx context.Context) (*loaded, error) {
	now := d.c.now()
	if d.jwks == nil || !now.Before(d.docExpires) {
		uri, hdr, err := discover(ctx, d.c, d.issuer, d.o)
		switch {
		case err != nil && d.jwks == nil:
			return nil, err
		case err != nil:
			d.log().Warn("re-discovery failed; keeping the previous jwks_uri", slog.Any("error", err), slog.String("jwks_uri", d.jwks.url))
			d.docExpires = now.Add(d.o.MinRefresh)
		default:
			if d.jwks == nil || d.jwks.url != uri {
				if d.jwks != nil {
					d.log().Info("jwks_uri changed", slog.String("old", d.jwks.url), slog.String("new", uri))
				}
				d.jwks = &jwksLoader{c: d.c, o: d.o, url: uri}
				d.jwksURI.Store(&uri)
			}
			d.docExpires = now.Add(lifetime(hdr, now, d.o.MinRefresh, d.o.MaxRefresh))
		}
	}
	return d.jwks.load(ctx)
}

// DiscoveryURLs lists the metadata URLs tried for issuer, in order: OpenID
// Connect (path appended), RFC 8414 (well-known inserted before the path),
// and, for issuers with a path, the RFC 8414 name appended as many servers
// publish it. A trailing slash on the issuer never doubles a slash.
func DiscoveryURLs(issuer string) []string {
	base := strings.TrimRight(issuer, "/")
	urls := []string{base + "/.well-known/openid-configuration"}
	if u, err := url.Parse(base); err == nil && u.Path != "" {
		urls = append(urls, u.Scheme+"://"+u.Host+"/.well-known/oauth-authorization-server"+u.Path)
	}
	return append(urls, base+"/.well-known/oauth-authorization-server")
}

// discover fetches the issuer's metadata and returns its validated jwks_uri
// and the response headers (for the metadata's lifetime). It falls back to
// the next URL only when a URL is not there (a status error or a non-JSON
// page); a document that is there but wrong is a hard error.
func discover(ctx context.Context, c *Cache, issuer string, o Options) (string, http.Header, error) {
	if err := CheckURL(issuer); err != nil {
		return "", nil, fmt.Errorf("issuer %w", err)
	}
	if u, _ := url.Parse(issuer); u.RawQuery != "" {
		return "", nil, fmt.Errorf("issuer %q must not have a query", issuer)
	}
	var errs []error
	for _, u := range DiscoveryURLs(issuer) {
		start := time.Now()
		resp, err := get(ctx, c.client, u, "application/json", o, validators{})
		if err != nil {
			c.obs.Fetched(u, ResultError, 0, time.Since(start))
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			var se *StatusError
			if errors.As(err, &se) || errors.Is(err, errContentType) {
				continue
			}
			break
		}
		uri, err := parseMetadata(resp.body, issuer)
		if err != nil {
			c.obs.Fetched(u, ResultError, 0, time.Since(start))
			return "", nil, fmt.Errorf("discovery %s: %w", u, err)
		}
		c.obs.Fetched(u, ResultOK, 0, time.Since(start))
		return uri, resp.header, nil
	}
	return "", nil, fmt.Errorf("discovery for issuer %s failed: %w", issuer, errors.Join(errs...))
}

// parseMetadata checks the issuer and returns jwks_uri.
func parseMetadata(body []byte, issuer string) (string, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("invalid JSON: %w", err)
	}
	if doc.Issuer != issuer {
		hint := ""
		if strings.TrimRight(doc.Issuer, "/") == strings.TrimRight(issuer, "/") {
			hint = " (they differ in a trailing slash; configure the issuer exactly as the provider spells it)"
		}
		return "", fmt.Errorf("issuer mismatch: metadata says %q, configured %q%s", doc.Issuer, issuer, hint)
	}
	if doc.JWKSURI == "" {
		return "", errors.New("metadata has no jwks_uri")
	}
	// The same check as every fetch makes, so that a jwks_uri that could
	// never be fetched (a fragment, no host) fails discovery itself, with the
	// document named, instead of every later fetch.
	if err := CheckURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("jwks_uri %q is not an absolute http(s) URL: %w", doc.JWKSURI, err)
	}
	u, _ := url.Parse(doc.JWKSURI)
	if u.Scheme == "http" && !isLoopback(u.Hostname()) && !strings.HasPrefix(strings.ToLower(issuer), "http://") {
		return "", fmt.Errorf("jwks_uri %q must use https", doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

var _ token.KeyResolver = (*Discovered)(nil)
