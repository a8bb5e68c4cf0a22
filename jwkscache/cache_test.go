package jwkscache

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

func TestRedirects(t *testing.T) {
	body := jwksBody(ecKey(t, "a"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /r/N redirects N more times before the JWKS.
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if n > 0 {
			http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	env := newTestCache(t, CacheConfig{})
	if err := env.cache.JWKS(srv.URL+"/r/3", Options{}).WaitReady(ctxT(t)); err != nil {
		t.Fatalf("3 redirects: %v", err)
	}
	err := env.cache.JWKS(srv.URL+"/r/4", Options{}).WaitReady(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "stopped after 3 redirects") {
		t.Fatalf("4 redirects: err = %v", err)
	}
}

func TestRedirectNeverDowngrades(t *testing.T) {
	req := func(raw string) *http.Request {
		u, _ := url.Parse(raw)
		return &http.Request{URL: u}
	}
	via := []*http.Request{req("https://idp.example/jwks")}
	if err := checkRedirect(req("http://idp.example/jwks"), via); err == nil {
		t.Error("https -> http redirect followed")
	}
	if err := checkRedirect(req("https://cdn.example/jwks"), via); err != nil {
		t.Error(err)
	}
	if err := checkRedirect(req("http://other.example/jwks"), []*http.Request{req("http://idp.example/jwks")}); err != nil {
		t.Errorf("http -> http should follow: %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://idp.example/jwks": true, "http://localhost:8080/k": true,
		"ftp://idp.example/jwks": false, "/jwks": false, "https://": false,
		"https://idp.example/jwks#frag": false, "::bad": false,
		"https://:443/jwks": false, // a port but no host name
	} {
		if err := CheckURL(raw); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestLRUEvictionStopsRefresh(t *testing.T) {
	var servers []*jwksServer
	env := newTestCache(t, CacheConfig{MaxSources: 2})
	var sources []*Source
	for i := range 3 {
		srv := newJWKSServer(t, ecKey(t, "a"))
		srv.SetCacheControl("no-store") // refresh every ~MinRefresh
		servers = append(servers, srv)
		src := env.cache.JWKS(srv.URL, Options{MinRefresh: 20 * time.Millisecond})
		if err := src.WaitReady(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, src)
		_ = i
	}
	if env.cache.Len() != 2 {
		t.Fatalf("cache holds %d sources, want 2", env.cache.Len())
	}
	first := sources[0]
	eventually(t, "the evicted loop to stop", func() bool { return !first.ks.running.Load() })
	time.Sleep(100 * time.Millisecond) // let a fetch that was in flight land
	before := servers[0].Hits()
	eventually(t, "live sources to keep refreshing", func() bool {
		return servers[1].Hits() >= 4 && servers[2].Hits() >= 4
	})
	if n := servers[0].Hits(); n != before {
		t.Errorf("evicted source kept refreshing: %d more fetches", n-before)
	}
	// A holder of the evicted source still gets keys (and refreshes on demand).
	mustResolve(t, first, "a", "ES256")
	eventually(t, "on-demand refresh", func() bool { return servers[0].Hits() > before })
	// Asking again gives a new, running source.
	again := env.cache.JWKS(servers[0].URL, Options{MinRefresh: 20 * time.Millisecond})
	if again == first {
		t.Error("evicted source handed out again")
	}
}

func TestCloseStopsEverything(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	srv.SetCacheControl("no-store")
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{MinRefresh: 10 * time.Millisecond})
	mustResolve(t, src, "a", "ES256")
	env.cache.Close()
	hits := srv.Hits()
	time.Sleep(50 * time.Millisecond)
	if n := srv.Hits(); n != hits {
		t.Errorf("fetched %d times after Close", n-hits)
	}
	// The last set still serves; unknown kids do not fetch.
	mustResolve(t, src, "a", "ES256")
	if _, err := src.ResolveKeys(ctxT(t), "zz", "ES256"); !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("err = %v", err)
	}
	// A source asked for after Close never fetches and fails closed.
	late := env.cache.JWKS(srv.URL+"/other", Options{})
	_, err := late.ResolveKeys(ctxT(t), "a", "ES256")
	if !errors.Is(err, token.ErrKeysUnavailable) || !errors.Is(err, ErrClosed) {
		t.Errorf("err = %v", err)
	}
	if err := late.WaitReady(ctxT(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitReady after Close = %v", err)
	}
	if n := srv.Hits(); n != hits {
		t.Errorf("fetched after Close")
	}
	env.cache.Close() // idempotent
}

func TestOptions(t *testing.T) {
	d := Options{}.WithDefaults()
	if d.Timeout != 10*time.Second || d.MinRefresh != 5*time.Minute || d.MaxRefresh != 24*time.Hour ||
		d.RefetchInterval != 30*time.Second || d.MaxStale != 24*time.Hour || d.MaxBodyBytes != 1<<20 {
		t.Errorf("defaults = %+v", d)
	}
	if (Options{}).Key() != d.Key() {
		t.Error("Key must be computed after defaults")
	}
	if (Options{}).Key() == (Options{MaxStale: time.Hour}).Key() {
		t.Error("Key ignores a field")
	}
	if o := (Options{MinRefresh: time.Hour, MaxRefresh: time.Minute}).WithDefaults(); o.MaxRefresh != time.Hour {
		t.Errorf("MaxRefresh not raised to MinRefresh: %+v", o)
	}
	if err := (Options{MinRefresh: time.Hour, MaxRefresh: time.Minute}).Validate(); err == nil {
		t.Error("min > max accepted")
	}
	if err := (Options{Timeout: -1}).Validate(); err == nil {
		t.Error("negative timeout accepted")
	}
	if err := (Options{}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestDropStopsRefreshing(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	env := newTestCache(t, CacheConfig{})
	opts := Options{MinRefresh: 20 * time.Millisecond, MaxRefresh: 20 * time.Millisecond}
	src := env.cache.JWKS(srv.URL, opts)
	src.Start()
	eventually(t, "background refreshes", func() bool { return srv.Hits() >= 3 })
	env.cache.DropJWKS(srv.URL, opts)
	if env.cache.Len() != 0 {
		t.Fatalf("Len = %d after drop", env.cache.Len())
	}
	settled := srv.Hits()
	time.Sleep(150 * time.Millisecond) // several refresh periods
	if n := srv.Hits(); n > settled+1 {
		t.Fatalf("dropped source kept refreshing: %d fetches after the drop", n-settled)
	}
	if env.cache.JWKS(srv.URL, opts) == src {
		t.Fatal("a dropped source was handed out again")
	}
}

func TestCheckBoundAndCleartext(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    time.Duration
		ok   bool
	}{
		{"timeout", 0, true}, {"timeout", 99 * time.Millisecond, false}, {"timeout", time.Minute, true}, {"timeout", time.Minute + 1, false},
		{"refresh_min", time.Nanosecond, false}, {"refresh_min", time.Second, true}, {"refresh_min", 25 * time.Hour, false},
		{"refresh_max", 168 * time.Hour, true}, {"refresh_max", 169 * time.Hour, false},
		{"refetch_interval", time.Hour, true}, {"refetch_interval", 2 * time.Hour, false},
		{"max_stale", -time.Second, false}, {"max_stale", 720 * time.Hour, true}, {"max_stale", 721 * time.Hour, false},
		{"bogus", time.Second, false},
	} {
		if err := CheckBound(tt.name, tt.d); (err == nil) != tt.ok {
			t.Errorf("CheckBound(%s, %s) = %v, want ok=%v", tt.name, tt.d, err, tt.ok)
		}
	}
	for raw, want := range map[string]bool{
		"http://idp.example/jwks": true, "HTTP://10.0.0.1/": true, "https://idp.example/jwks": false,
		"http://localhost:8080/": false, "http://127.0.0.1/": false, "http://[::1]:9/": false,
	} {
		if got := Cleartext(raw); got != want {
			t.Errorf("Cleartext(%q) = %v, want %v", raw, got, want)
		}
	}
}
