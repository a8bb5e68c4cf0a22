package jwkscache

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authgate/caddy-authgate/token"
)

// idp serves metadata documents and a JWKS, counting hits per path.
type idp struct {
	*httptest.Server
	mu   sync.Mutex
	docs map[string]any // path -> metadata document
	hits map[string]int
	jwks atomic.Pointer[[]byte]
}

func newIDP(t *testing.T, keys ...testKey) *idp {
	p := &idp{docs: map[string]any{}, hits: map[string]int{}}
	b := jwksBody(keys...)
	p.jwks.Store(&b)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits[r.URL.Path]++
		doc, ok := p.docs[r.URL.Path]
		p.mu.Unlock()
		switch {
		case r.URL.Path == "/jwks":
			w.Header().Set("Content-Type", "application/jwk-set+json")
			_, _ = w.Write(*p.jwks.Load())
		case ok:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(doc)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *idp) serve(path string, doc any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.docs[path] = doc
}

func (p *idp) hitCount(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

func meta(issuer, jwksURI string) map[string]any {
	m := map[string]any{"issuer": issuer, "token_endpoint": issuer + "/token"}
	if jwksURI != "" {
		m["jwks_uri"] = jwksURI
	}
	return m
}

func TestDiscoveryOpenIDConfiguration(t *testing.T) {
	p := newIDP(t, ecKey(t, "a"))
	p.serve("/.well-known/openid-configuration", meta(p.URL, p.URL+"/jwks"))
	env := newTestCache(t, CacheConfig{})
	d := env.cache.Discovery(p.URL, Options{})
	if d.Issuer() != p.URL {
		t.Errorf("Issuer() = %q", d.Issuer())
	}
	mustResolve(t, d, "a", "ES256")
	if d.JWKSURI() != p.URL+"/jwks" || d.Status().URL != p.URL+"/jwks" {
		t.Errorf("JWKSURI() = %q", d.JWKSURI())
	}
	if n := p.hitCount("/.well-known/oauth-authorization-server"); n != 0 {
		t.Errorf("fell back although OIDC metadata exists (%d hits)", n)
	}
}

func TestDiscoveryFallsBackToRFC8414(t *testing.T) {
	p := newIDP(t, ecKey(t, "a"))
	p.serve("/.well-known/oauth-authorization-server", meta(p.URL, p.URL+"/jwks"))
	env := newTestCache(t, CacheConfig{})
	d := env.cache.Discovery(p.URL, Options{})
	mustResolve(t, d, "a", "ES256")
	if p.hitCount("/.well-known/openid-configuration") != 1 {
		t.Error("OIDC metadata should be tried first")
	}
}

func TestDiscoveryIssuerWithPath(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"oidc appended", "/tenant/.well-known/openid-configuration"},
		{"rfc8414 inserted", "/.well-known/oauth-authorization-server/tenant"},
		{"rfc8414 appended", "/tenant/.well-known/oauth-authorization-server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newIDP(t, ecKey(t, "a"))
			issuer := p.URL + "/tenant"
			p.serve(tc.path, meta(issuer, p.URL+"/jwks"))
			env := newTestCache(t, CacheConfig{})
			mustResolve(t, env.cache.Discovery(issuer, Options{}), "a", "ES256")
		})
	}
}

func TestDiscoveryIssuerTrailingSlash(t *testing.T) {
	p := newIDP(t, ecKey(t, "a"))
	issuer := p.URL + "/realms/x/"
	// No double slash in the well-known URL; the document spells the issuer
	// with the slash, exactly as configured.
	p.serve("/realms/x/.well-known/openid-configuration", meta(issuer, p.URL+"/jwks"))
	env := newTestCache(t, CacheConfig{})
	mustResolve(t, env.cache.Discovery(issuer, Options{}), "a", "ES256")
}

func TestDiscoveryErrors(t *testing.T) {
	tests := []struct {
		name    string
		doc     func(base string) any
		wantErr string
	}{
		{"issuer mismatch", func(b string) any { return meta("https://evil.example", b+"/jwks") }, "issuer mismatch"},
		{"issuer differs by slash", func(b string) any { return meta(b+"/", b+"/jwks") }, "trailing slash"},
		{"missing jwks_uri", func(b string) any { return meta(b, "") }, "no jwks_uri"},
		{"relative jwks_uri", func(b string) any { return meta(b, "/jwks") }, "not an absolute"},
		{"not json", func(string) any { return "just a string" }, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newIDP(t, ecKey(t, "a"))
			p.serve("/.well-known/openid-configuration", tt.doc(p.URL))
			p.serve("/.well-known/oauth-authorization-server", meta(p.URL, p.URL+"/jwks"))
			env := newTestCache(t, CacheConfig{})
			d := env.cache.Discovery(p.URL, Options{})
			_, err := d.ResolveKeys(ctxT(t), "a", "ES256")
			if !errors.Is(err, token.ErrKeysUnavailable) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want unavailable with %q", err, tt.wantErr)
			}
			// A document that exists but is wrong is not "not found":
			// no fallback to the other metadata, no JWKS fetch.
			if p.hitCount("/.well-known/oauth-authorization-server") != 0 || p.hitCount("/jwks") != 0 {
				t.Error("fell back after a bad metadata document")
			}
		})
	}
}

func TestDiscoveryNothingFound(t *testing.T) {
	p := newIDP(t, ecKey(t, "a"))
	env := newTestCache(t, CacheConfig{})
	err := env.cache.Discovery(p.URL, Options{}).WaitReady(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "openid-configuration") || !strings.Contains(err.Error(), "oauth-authorization-server") {
		t.Fatalf("err = %v, want both URLs named", err)
	}
}

func TestParseMetadataJWKSURIScheme(t *testing.T) {
	tests := []struct {
		issuer, jwks string
		ok           bool
	}{
		{"https://idp.example", "https://keys.example/jwks", true},
		{"https://idp.example", "http://keys.example/jwks", false},
		{"https://idp.example", "http://127.0.0.1:8080/jwks", true},
		{"https://idp.example", "http://localhost/jwks", true},
		{"https://idp.example", "http://[::1]/jwks", true},
		{"http://idp.internal", "http://keys.internal/jwks", true},
		{"https://idp.example", "ftp://keys.example/jwks", false},
		{"https://idp.example", "file:///etc/jwks", false},
		// Fetches refuse these, so discovery must too (not every later fetch).
		{"https://idp.example", "https://keys.example/jwks#frag", false},
		{"https://idp.example", "https://:443/jwks", false},
		{"HTTP://idp.internal", "http://keys.internal/jwks", true},
	}
	for _, tt := range tests {
		body, _ := json.Marshal(meta(tt.issuer, tt.jwks))
		_, err := parseMetadata(body, tt.issuer)
		if (err == nil) != tt.ok {
			t.Errorf("issuer %s jwks_uri %s: err = %v, want ok=%v", tt.issuer, tt.jwks, err, tt.ok)
		}
	}
}

func TestDiscoveryURLs(t *testing.T) {
	tests := map[string][]string{
		"https://idp.example": {
			"https://idp.example/.well-known/openid-configuration",
			"https://idp.example/.well-known/oauth-authorization-server"},
		"https://idp.example/": {
			"https://idp.example/.well-known/openid-configuration",
			"https://idp.example/.well-known/oauth-authorization-server"},
		"https://idp.example/t/1/": {
			"https://idp.example/t/1/.well-known/openid-configuration",
			"https://idp.example/.well-known/oauth-authorization-server/t/1",
			"https://idp.example/t/1/.well-known/oauth-authorization-server"},
	}
	for issuer, want := range tests {
		if got := DiscoveryURLs(issuer); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("DiscoveryURLs(%q) = %v, want %v", issuer, got, want)
		}
	}
}
