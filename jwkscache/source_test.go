package jwkscache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustResolve(t testing.TB, r token.KeyResolver, kid, alg string) *token.Key {
	t.Helper()
	keys, err := r.ResolveKeys(ctxT(t), kid, alg)
	if err != nil {
		t.Fatalf("ResolveKeys(%q, %s): %v", kid, alg, err)
	}
	if len(keys) != 1 || keys[0].ID != kid {
		t.Fatalf("ResolveKeys(%q): got %d keys", kid, len(keys))
	}
	return keys[0]
}

func TestConstructionDoesNotFetch(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	env := newTestCache(t, CacheConfig{})
	s1 := env.cache.JWKS(srv.URL, Options{})
	s2 := env.cache.JWKS(srv.URL, Options{Timeout: DefaultTimeout}) // same effective options
	s3 := env.cache.JWKS(srv.URL, Options{Timeout: time.Second})
	d := env.cache.Discovery(srv.URL, Options{})
	if s1 != s2 {
		t.Error("equal effective options should share one source")
	}
	if s1 == s3 {
		t.Error("different options should get different sources")
	}
	if d.JWKSURI() != "" || s1.Keys() != nil {
		t.Error("nothing should be resolved before Start")
	}
	time.Sleep(50 * time.Millisecond)
	if n := srv.Hits(); n != 0 {
		t.Fatalf("construction fetched %d times", n)
	}
	s1.Start()
	s1.Start() // idempotent
	if err := s1.WaitReady(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := srv.Hits(); n != 1 {
		t.Fatalf("hits = %d, want 1", n)
	}
}

func TestFirstRequestWaitsForFirstFetch(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	srv.SetDelay(150 * time.Millisecond)
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{})
	// No Start: the first ResolveKeys starts the fetch and waits for it.
	mustResolve(t, src, "a", "ES256")
	if n := srv.Hits(); n != 1 {
		t.Fatalf("hits = %d, want 1", n)
	}
}

func TestRotationRefetchesOnce(t *testing.T) {
	a, b := ecKey(t, "a"), edKey(t, "b")
	srv := newJWKSServer(t, a)
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{})
	if err := src.WaitReady(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ka := mustResolve(t, src, "a", "ES256")
	if n := srv.Hits(); n != 1 {
		t.Fatalf("hits = %d, want 1", n)
	}

	srv.setKeys(a, b) // the provider rotates in a new key
	kb := mustResolve(t, src, "b", "EdDSA")
	if n := srv.Hits(); n != 2 {
		t.Fatalf("hits after rotation = %d, want exactly 2", n)
	}
	if kb.Retired() || ka.Retired() {
		t.Error("no key should be retired")
	}
	if got := mustResolve(t, src, "a", "ES256"); got != ka {
		t.Error("unchanged key lost its identity across the refresh")
	}
	// Within the refetch interval another unknown kid fails fast, no fetch.
	if _, err := src.ResolveKeys(ctxT(t), "c", "ES256"); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	if n := srv.Hits(); n != 2 {
		t.Fatalf("suppressed refetch still fetched: hits = %d", n)
	}
	// A wrong algorithm for a known kid is unknown, too (no fetch either).
	if _, err := src.ResolveKeys(ctxT(t), "a", "RS256"); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	_, refetch, suppressed := env.obs.counts()
	if refetch != 1 || suppressed != 2 {
		t.Errorf("observer: refetch=%d suppressed=%d, want 1 and 2", refetch, suppressed)
	}
}

func TestRefetchIntervalAllowsNextRefetch(t *testing.T) {
	clock := newFakeClock()
	srv := newJWKSServer(t, ecKey(t, "a"))
	env := newTestCache(t, CacheConfig{Now: clock.Now})
	src := env.cache.JWKS(srv.URL, Options{RefetchInterval: time.Minute})
	mustResolve(t, src, "a", "ES256")
	for i := range 2 {
		if _, err := src.ResolveKeys(ctxT(t), "x", "ES256"); !errors.Is(err, token.ErrUnknownKey) {
			t.Fatal(err)
		}
		if n := srv.Hits(); n != 2+i {
			t.Fatalf("round %d: hits = %d", i, n)
		}
		clock.Advance(time.Minute) // the next unknown kid may fetch again
	}
}

func TestConcurrentUnknownKidsFetchAtMostOnce(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	srv.SetDelay(20 * time.Millisecond) // let requests pile up on the flight
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{})
	if err := src.WaitReady(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	before := srv.Hits()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			_, err := src.ResolveKeys(ctxT(t), fmt.Sprintf("kid-%d", rand.Int64()), "ES256")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, token.ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrUnknownKey", err)
		}
	}
	if n := srv.Hits() - before; n > 1 {
		t.Fatalf("200 unknown kids caused %d fetches, want at most 1", n)
	}
}

func TestServerDownKeepsServingAndRetries(t *testing.T) {
	for _, mode := range []string{"500", "closed"} {
		t.Run(mode, func(t *testing.T) {
			srv := newJWKSServer(t, ecKey(t, "a"))
			srv.SetCacheControl("max-age=0") // lifetime = MinRefresh: quick refreshes
			env := newTestCache(t, CacheConfig{})
			src := env.cache.JWKS(srv.URL, Options{MinRefresh: 40 * time.Millisecond})
			if err := src.WaitReady(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			ka := mustResolve(t, src, "a", "ES256")
			if mode == "500" {
				srv.SetStatus(500)
			} else {
				srv.Close()
			}
			failed := func() int {
				return len(env.logs.Containing("refreshing key set failed"))
			}
			eventually(t, "three logged refresh failures", func() bool { return failed() >= 3 })
			if got := mustResolve(t, src, "a", "ES256"); got != ka {
				t.Error("cached key changed while the server is down")
			}
			// Each attempt is logged with a growing failure count.
			entries := env.logs.Containing("refreshing key set failed")
			for i, e := range entries[:3] {
				if n := e.Attrs["consecutive_failures"]; n != int64(i+1) {
					t.Errorf("attempt %d logged consecutive_failures=%v", i+1, n)
				}
				if e.Level != slog.LevelWarn {
					t.Errorf("level = %s, want warn", e.Level)
				}
			}
			if mode == "500" {
				if !strings.Contains(fmt.Sprint(entries[0].Attrs["error"]), "500") {
					t.Errorf("log does not name the status: %v", entries[0].Attrs)
				}
				st := src.Status()
				if st.ConsecutiveFailures < 3 || st.LastError == "" || st.Keys != 1 {
					t.Errorf("status = %+v", st)
				}
				// Recovery resets the failure count.
				srv.SetStatus(0)
				eventually(t, "recovery", func() bool { return src.Status().ConsecutiveFailures == 0 })
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	cap := 5 * time.Minute
	prev := time.Duration(0)
	for n := 1; n <= 20; n++ {
		d := backoff(n, cap)
		if d <= 0 || d > cap {
			t.Fatalf("backoff(%d) = %s out of (0, %s]", n, d, cap)
		}
		if n > 1 && d < prev*9/10 && prev < cap*9/10 {
			t.Errorf("backoff(%d) = %s shrank from %s", n, d, prev)
		}
		prev = d
	}
	if d := backoff(1, cap); d < 900*time.Millisecond || d > time.Second {
		t.Errorf("first backoff = %s, want about 1s", d)
	}
	if d := backoff(2, cap); d < 1800*time.Millisecond || d > 2*time.Second {
		t.Errorf("second backoff = %s, want about 2s", d)
	}
	if d := backoff(30, cap); d < cap*9/10 {
		t.Errorf("backoff should reach the cap, got %s", d)
	}
	if d := backoff(1, 100*time.Millisecond); d > 100*time.Millisecond {
		t.Errorf("backoff must not exceed a cap below 1s: %s", d)
	}
}

func TestNeverFetchedIsUnavailable(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	srv.SetStatus(503)
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{})
	werr := src.WaitReady(ctxT(t))
	if werr == nil {
		t.Fatal("WaitReady succeeded against a failing server")
	}
	_, err := src.ResolveKeys(ctxT(t), "a", "ES256")
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %T %v, want *UnavailableError", err, err)
	}
	if !errors.Is(err, token.ErrKeysUnavailable) || errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	if ue.RetryAfterSeconds() < 1 || ue.URL != srv.URL {
		t.Errorf("RetryAfterSeconds=%d URL=%q", ue.RetryAfterSeconds(), ue.URL)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 503 || !strings.Contains(err.Error(), "503") {
		t.Errorf("error should carry the status: %v", err)
	}
	// Fails fast while backing off: no fetch per request.
	hits := srv.Hits()
	for range 10 {
		if _, err := src.ResolveKeys(ctxT(t), "a", "ES256"); !errors.Is(err, token.ErrKeysUnavailable) {
			t.Fatal(err)
		}
	}
	if n := srv.Hits(); n != hits {
		t.Errorf("requests during backoff fetched %d times", n-hits)
	}
	if len(env.logs.Containing("fetching key set failed")) == 0 {
		t.Error("failure not logged")
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	srv.Close()
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{})
	_, err := src.ResolveKeys(ctxT(t), "a", "ES256")
	if !errors.Is(err, token.ErrKeysUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func TestMaxStale(t *testing.T) {
	clock := newFakeClock()
	srv := newJWKSServer(t, ecKey(t, "a"))
	srv.SetCacheControl("no-store")
	env := newTestCache(t, CacheConfig{Now: clock.Now})
	src := env.cache.JWKS(srv.URL, Options{MinRefresh: 30 * time.Millisecond, MaxStale: time.Hour})
	mustResolve(t, src, "a", "ES256")
	srv.SetStatus(500)
	eventually(t, "a failed refresh", func() bool { return src.Status().ConsecutiveFailures > 0 })

	clock.Advance(59 * time.Minute) // still within max_stale
	mustResolve(t, src, "a", "ES256")

	clock.Advance(2 * time.Minute) // beyond
	_, err := src.ResolveKeys(ctxT(t), "a", "ES256")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, token.ErrKeysUnavailable) || ue.RetryAfterSeconds() < 1 {
		t.Fatalf("err = %v, want UnavailableError", err)
	}
	if !strings.Contains(err.Error(), "stale") {
		t.Errorf("error should say stale: %v", err)
	}
	if src.Keys() != nil || !src.Status().Stale {
		t.Error("stale set still offered")
	}

	srv.SetStatus(0) // the provider comes back: the next retry restores service
	eventually(t, "recovery", func() bool { return src.Keys() != nil })
	mustResolve(t, src, "a", "ES256")
}

func TestRemovedKeyIsRetired(t *testing.T) {
	a, b, c := ecKey(t, "a"), rsaKey(t, "b", "sig"), edKey(t, "c")
	srv := newJWKSServer(t, a, b)
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{})
	ka := mustResolve(t, src, "a", "ES256")
	kb := mustResolve(t, src, "b", "RS256")

	srv.setKeys(b, c) // a is withdrawn, c added
	mustResolve(t, src, "c", "EdDSA")
	if !ka.Retired() {
		t.Error("removed key not retired")
	}
	if kb.Retired() {
		t.Error("kept key retired")
	}
	if got := mustResolve(t, src, "b", "RS256"); got != kb {
		t.Error("kept key lost its identity")
	}
	if src.Keys().Len() != 2 {
		t.Errorf("set has %d keys, want 2", src.Keys().Len())
	}
	if len(env.logs.Message("key set updated")) != 2 {
		t.Error("key set changes should be logged")
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	srv.SetDelay(5 * time.Second)
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{Timeout: 200 * time.Millisecond})
	err := src.WaitReady(ctxT(t))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestRequestContextBoundsTheWait(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	srv.SetDelay(5 * time.Second)
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := src.ResolveKeys(ctx, "a", "ES256")
	if !errors.Is(err, token.ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestDocumentChecks(t *testing.T) {
	good := ecKey(t, "a")
	valid := jwksBody(good)
	padded := append(valid[:len(valid)-1:len(valid)-1], []byte(`,"pad":"`+strings.Repeat("x", 2000)+`"}`)...)
	tests := []struct {
		name    string
		body    []byte
		ct      string
		status  int
		chunked bool
		wantErr string // "" = success
	}{
		{name: "json", body: valid, ct: "application/json"},
		{name: "jwk-set+json", body: valid, ct: "application/jwk-set+json; charset=utf-8"},
		{name: "other +json", body: valid, ct: "application/vnd.example+json"},
		{name: "no content type tolerated", body: valid, ct: ""},
		{name: "oversized", body: padded, ct: "application/json", wantErr: "exceeds the limit"},
		{name: "oversized chunked", body: padded, ct: "application/json", chunked: true, wantErr: "exceeds the limit"},
		{name: "invalid json", body: []byte(`{"keys":[`), ct: "application/json", wantErr: "invalid JSON"},
		{name: "html", body: []byte(`<html>login</html>`), ct: "text/html; charset=utf-8", wantErr: `unexpected Content-Type "text/html"`},
		{name: "text/plain", body: valid, ct: "text/plain", wantErr: "unexpected Content-Type"},
		{name: "no usable key", body: jwksBody(rsaKey(t, "enc", "enc")), ct: "application/json", wantErr: "no usable signing key"},
		{name: "empty set", body: []byte(`{"keys":[]}`), ct: "application/json", wantErr: "no usable signing key"},
		{name: "404", body: valid, ct: "application/json", status: 404, wantErr: "unexpected HTTP status 404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t)
			srv.setBody(tt.body)
			srv.SetContentType(tt.ct)
			srv.SetStatus(tt.status)
			srv.SetChunked(tt.chunked)
			url := srv.URL
			env := newTestCache(t, CacheConfig{})
			src := env.cache.JWKS(url, Options{MaxBodyBytes: 1024})
			err := src.WaitReady(ctxT(t))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				mustResolve(t, src, "a", "ES256")
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if !errors.Is(err, token.ErrKeysUnavailable) {
				t.Errorf("not an unavailable error: %v", err)
			}
		})
	}
}

func TestSkippedKeysWarn(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"), rsaKey(t, "enc-1", "enc"))
	srv.SetCacheControl("max-age=0")
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{MinRefresh: 30 * time.Millisecond})
	mustResolve(t, src, "a", "ES256")
	if src.Keys().Len() != 1 {
		t.Fatalf("enc key was not skipped: %d keys", src.Keys().Len())
	}
	warned := env.logs.Message("key set entry skipped", slog.LevelWarn)
	if len(warned) != 1 || !strings.Contains(fmt.Sprint(warned[0].Attrs["error"]), `use "enc"`) {
		t.Fatalf("want one warning naming the enc key, got %v", warned)
	}
	// Unchanged on refresh: not warned again.
	eventually(t, "two more refreshes", func() bool { return srv.Hits() >= 3 })
	if n := len(env.logs.Message("key set entry skipped", slog.LevelWarn)); n != 1 {
		t.Errorf("repeat warnings: %d", n)
	}
}

func TestConditionalRefresh(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	srv.SetETag(true)
	srv.SetCacheControl("max-age=0")
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{MinRefresh: 30 * time.Millisecond})
	ka := mustResolve(t, src, "a", "ES256")
	eventually(t, "a 304 refresh", func() bool {
		f, _, _ := env.obs.counts()
		return f[ResultNotModified] >= 2
	})
	if got := mustResolve(t, src, "a", "ES256"); got != ka || ka.Retired() {
		t.Error("a 304 must keep the set")
	}
	if f, _, _ := env.obs.counts(); f[ResultOK] != 1 {
		t.Errorf("fetch results = %v, want one ok", f)
	}
}

func TestResolveKnownKidDoesNotAllocate(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{})
	mustResolve(t, src, "a", "ES256")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := src.ResolveKeys(ctx, "a", "ES256"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("known-kid ResolveKeys allocates %.1f times", allocs)
	}
}

func TestUnavailableErrorRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {-time.Second, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {5 * time.Minute, 300}} {
		e := &UnavailableError{URL: "u", RetryAfter: tt.d, Err: errors.New("x")}
		if got := e.RetryAfterSeconds(); got != tt.want {
			t.Errorf("RetryAfterSeconds(%s) = %d, want %d", tt.d, got, tt.want)
		}
	}
	e := &UnavailableError{URL: "https://idp/jwks", Err: errors.New("boom")}
	if !errors.Is(e, token.ErrKeysUnavailable) || errors.Unwrap(e).Error() != "boom" || !strings.Contains(e.Error(), "boom") {
		t.Errorf("error wiring broken: %v", e)
	}
}

func TestUnknownKidWhileServerDown(t *testing.T) {
	srv := newJWKSServer(t, ecKey(t, "a"))
	env := newTestCache(t, CacheConfig{})
	src := env.cache.JWKS(srv.URL, Options{})
	mustResolve(t, src, "a", "ES256")
	srv.SetStatus(500)
	// The one allowed re-fetch fails: the kid may be a rotated key we cannot
	// see, so "unavailable, retry" rather than "invalid token".
	_, err := src.ResolveKeys(ctxT(t), "new", "ES256")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "re-fetch failed") || !strings.Contains(err.Error(), "500") {
		t.Fatalf("err = %v", err)
	}
	// Tokens in between fail fast, without a fetch, but still as "retry":
	// the provider is down, so the kid may be a key rotated in meanwhile.
	if _, err := src.ResolveKeys(ctxT(t), "newer", "ES256"); !errors.As(err, &ue) || errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("err = %v, want UnavailableError", err)
	}
	mustResolve(t, src, "a", "ES256")
	if n := srv.Hits(); n != 2 {
		t.Errorf("hits = %d, want 2", n)
	}
}

// jwkscache relies on token.Reconcile recognising a key parsed from two
// fetches of the same JWKS as the same key; this pins that seam directly.
func TestReconcileRecognisesRefetchedKeys(t *testing.T) {
	body := jwksBody(ecKey(t, "ec"), rsaKey(t, "rsa", "sig"), edKey(t, "ed"))
	first, _, err := token.ParseJWKS(body, "test")
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := token.ParseJWKS(body, "test")
	if err != nil {
		t.Fatal(err)
	}
	merged, removed := token.Reconcile(token.NewKeySet(first...), second)
	if len(removed) != 0 {
		t.Errorf("token.Reconcile reports %d unchanged keys as removed (does token's equaler match the crypto.PublicKey Equal methods?)", len(removed))
	}
	for i, k := range merged.Keys() {
		if k != first[i] {
			t.Errorf("key %q lost its identity", k.ID)
		}
	}
}
