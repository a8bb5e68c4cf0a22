package issuer

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
)

// unreachableFamilies is a memory engine whose refresh-family writes fail
// as a networked engine's do when its server is gone mid-request.
type unreachableFamilies struct {
	*memory.Store
	down atomic.Bool
}

func (s *unreachableFamilies) StartFamily(ctx context.Context, fam store.RefreshFamily, first *store.RefreshRecord) error {
	if s.down.Load() {
		return fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	}
	return s.Store.StartFamily(ctx, fam, first)
}

func (s *unreachableFamilies) RotateRefresh(ctx context.Context, hash []byte, next func(store.RefreshRecord) (store.RefreshRecord, error)) (store.RefreshRecord, store.RefreshFamily, error) {
	if s.down.Load() {
		return store.RefreshRecord{}, store.RefreshFamily{}, fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	}
	return s.Store.RotateRefresh(ctx, hash, next)
}

// TestFamilyStoreUnavailable: a code exchange or a refresh whose family
// write fails because the shared store is unreachable answers 503
// temporarily_unavailable with Retry-After (the client may retry), never
// 500 and never tokens; once the store is back the same refresh token
// works (nothing was spent).
func TestFamilyStoreUnavailable(t *testing.T) {
	var st *unreachableFamilies
	e := peopleEnv(t, func(c *Config) {
		st = &unreachableFamilies{Store: c.Store.(*memory.Store)}
		c.Store = st
	})
	r := e.mustExchange("web", e.putCode(codeOpts{}))
	rt := str(r.body, "refresh_token")

	st.down.Store(true)
	for name, r := range map[string]resp{
		"refresh":       e.refresh("web", rt, nil),
		"code exchange": e.exchange("web", e.putCode(codeOpts{}), tokensVerifier, "https://app.example/cb"),
	} {
		if r.status != 503 || r.body["error"] != errTemporarilyUnavailable || r.header.Get("Retry-After") == "" || str(r.body, "access_token") != "" {
			t.Fatalf("%s with the store unreachable: %d %v %s", name, r.status, r.header, r.raw)
		}
	}
	st.down.Store(false)
	e.clock.Advance(time.Second)
	if r := e.refresh("web", rt, nil); r.status != 200 {
		t.Fatalf("refresh after the store is back: %d %s", r.status, r.raw)
	}
}
