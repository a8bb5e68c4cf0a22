package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/redis"
)

// TestInstancesCompareAndSet: the compare-and-set roles across engines
// (separate clients and connections, as separate Caddy instances), on a
// standalone server and on a Cluster: one refresh token rotated by 16
// callers on 4 engines at once has exactly one winner, and the losers'
// reuse revokes the family and the winner's access token; 64 concurrent
// UpdateClient calls lose no update; concurrent SetNotBefore keeps the
// latest instant.
func TestInstancesCompareAndSet(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{FirstPort: 6450, LastPort: 6499})
	t.Run("standalone", func(t *testing.T) {
		casAcross(t, func() *redis.Engine { return openEngine(t, srv.Addr, "cas:") })
	})
	if testing.Short() {
		return
	}
	cl := cluster.Get(t)
	prefix := unique("cas")
	t.Run("cluster", func(t *testing.T) {
		casAcross(t, func() *redis.Engine {
			e, err := redis.New(redis.Options{Addrs: cl.Addrs(), Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Close() })
			return e
		})
	})
}

func casAcross(t *testing.T, open func() *redis.Engine) {
	ctx := context.Background()
	engines := []*redis.Engine{open(), open(), open(), open()}
	until := time.Now().Add(time.Hour)
	rec := func(name, fam, jti string) store.RefreshRecord {
		return store.RefreshRecord{Hash: []byte(fmt.Sprintf("%-32s", name)), FamilyID: fam, ClientID: "web", Subject: "alice",
			ExpiresAt: until, FamilyEndsAt: until, AccessJTI: jti, AccessRevokeUntil: until}
	}
	for round := range 4 {
		fam := fmt.Sprintf("fam-%d-%d", time.Now().UnixNano(), round)
		first := rec(fam+"-rt0", fam, fam+"-at0")
		if err := engines[0].StartFamily(ctx, store.RefreshFamily{ID: fam, Access: []store.FamilyAccess{{JTI: fam + "-at0", RevokeUntil: until}}, ExpiresAt: until}, &first); err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
			reused  int
		)
		start := make(chan struct{})
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				name := fmt.Sprintf("%s-rt1-%d", fam, i)
				_, _, err := engines[i%len(engines)].RotateRefresh(ctx, first.Hash, func(store.RefreshRecord) (store.RefreshRecord, error) {
					return rec(name, fam, fmt.Sprintf("%s-at1-%d", fam, i)), nil
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, fmt.Sprintf("%s-at1-%d", fam, i))
				case errors.Is(err, store.ErrRefreshReused), errors.Is(err, store.ErrFamilyRevoked):
					reused++
				default:
					t.Errorf("rotation: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 || reused != 15 {
			t.Fatalf("round %d: %d winners, %d refused; want 1 and 15", round, len(winners), reused)
		}
		// The losers presented a spent token: the family and the winner's
		// access token are revoked, in the feed every instance reads.
		revs, _, err := engines[3].RevocationsSince(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(revs, func(r store.Revocation) bool { return r.JTI == winners[0] }) ||
			!slices.ContainsFunc(revs, func(r store.Revocation) bool { return r.JTI == fam+"-at0" }) {
			t.Fatalf("round %d: the winner's and the first access token are not both revoked", round)
		}
	}

	// No lost update: each of 64 updates on 4 engines adds one scope.
	if err := engines[0].PutClient(ctx, store.Client{ID: "shared"}); err != nil {
		t.Fatal(err)
	}
	v0, _ := engines[1].ClientsVersion(ctx)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := engines[i%len(engines)].UpdateClient(ctx, "shared", func(c *store.Client) (*store.Client, error) {
				c.Scopes = append(c.Scopes, fmt.Sprint("s", i))
				return c, nil
			}); err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	c, err := engines[2].GetClient(ctx, "shared")
	if err != nil || len(c.Scopes) != 64 {
		t.Fatalf("after 64 concurrent updates: %d scopes, %v", len(c.Scopes), err)
	}
	if v, _ := engines[3].ClientsVersion(ctx); v != v0+64 {
		t.Fatalf("version %d after 64 updates from %d", v, v0)
	}

	// Concurrent not-befores of one user: the latest instant stays.
	base := time.Now().Truncate(time.Second)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nb := store.NotBefore{Issuer: "https://iss", Kind: store.NotBeforeUser, ID: "bob", At: base.Add(time.Duration(i) * time.Second), Until: until}
			if err := engines[i%len(engines)].SetNotBefore(ctx, nb); err != nil {
				t.Errorf("not-before %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	nbs, err := engines[0].NotBefores(ctx, "https://iss")
	if err != nil || len(nbs) != 1 || !nbs[0].At.Equal(base.Add(31*time.Second)) {
		t.Fatalf("not-befores after concurrent writes: %+v %v", nbs, err)
	}
}
