package jwkscache

import (
	"net/http"
	"testing"
	"time"
)

// Every key of a source carries the source's lease, which ends when the set
// goes stale (last success + MaxStale) and is extended by each success, so a
// verified-token cache can stop serving the key's tokens without asking the
// source.
func TestKeysCarryTheSourceLease(t *testing.T) {
	clock := newFakeClock()
	ka := ecKey(t, "a")
	srv := newJWKSServer(t, ka)
	env := newTestCache(t, CacheConfig{Now: clock.Now})
	s := env.cache.JWKS(srv.URL, Options{MaxStale: 3 * time.Second, MinRefresh: time.Hour})
	k := mustResolve(t, s, "a", "ES256")
	start := clock.Now()
	if k.Lease() == nil || k.Lease().Until() != start.Add(3*time.Second).UnixNano() {
		t.Fatalf("lease after the first fetch: %v", k.Lease())
	}
	if !k.UsableAt(start.Add(2*time.Second).UnixNano()) || k.UsableAt(start.Add(3*time.Second).UnixNano()) {
		t.Fatal("UsableAt disagrees with the lease")
	}
	// A success extends the lease of the keys it keeps.
	clock.Advance(2 * time.Second)
	srv.setKeys(ecKey(t, "b"), ka)
	if kb := mustResolve(t, s, "b", "ES256"); kb.Lease() != k.Lease() { // unknown kid: re-fetch
		t.Fatal("new key does not share the source's lease")
	}
	if k.Retired() {
		t.Fatal("kept key was retired")
	}
	if got := k.Lease().Until(); got != start.Add(5*time.Second).UnixNano() {
		t.Fatalf("lease not extended: %v", time.Unix(0, got).Sub(start))
	}
	// A failure does not.
	srv.SetStatus(http.StatusInternalServerError)
	clock.Advance(4 * time.Second)
	if _, err := s.ResolveKeys(ctxT(t), "a", "ES256"); err == nil {
		t.Fatal("stale source still resolves")
	}
	if k.UsableAt(clock.Now().UnixNano()) {
		t.Fatal("key usable beyond max_stale")
	}
}
