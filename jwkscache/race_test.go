package jwkscache

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestNewKidNotLostToStaleInflightFetch: a fetch that read the document
// before the provider published a key must not be the last word for a token
// signed with that key; the token gets one fetch of its own.
func TestNewKidNotLostToStaleInflightFetch(t *testing.T) {
	a, b := ecKey(t, "a"), edKey(t, "b")
	var body atomic.Pointer[[]byte]
	setKeys := func(keys ...testKey) { doc := jwksBody(keys...); body.Store(&doc) }
	setKeys(a)
	var hits atomic.Int32
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc := *body.Load() // the document as it is when the fetch arrives
		if hits.Add(1) == 2 {
			<-gate // the second fetch answers late, with what it read
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	}()

	clk := newFakeClock()
	env := newTestCache(t, CacheConfig{Now: clk.Now})
	src := env.cache.JWKS(srv.URL, Options{})
	if err := src.WaitReady(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	// An unknown kid starts fetch #2, which reads the document without b.
	go src.ResolveKeys(ctxT(t), "x", "ES256")
	eventually(t, "fetch #2 to arrive", func() bool { return hits.Load() == 2 })

	// The provider publishes b and signs with it; a token arrives later
	// than the refetch interval and joins the fetch still in flight.
	clk.Advance(DefaultRefetchInterval + time.Second)
	setKeys(a, b)
	result := make(chan error, 1)
	go func() {
		_, err := src.ResolveKeys(ctxT(t), "b", "EdDSA")
		result <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it join the flight
	close(gate)

	if err := <-result; err != nil {
		t.Fatalf("token with the newly published kid rejected: %v", err)
	}
	if n := hits.Load(); n != 3 {
		t.Fatalf("hits = %d, want 3 (its own fetch, once)", n)
	}
}
