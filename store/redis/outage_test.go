package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/redis"
)

func openEngine(t *testing.T, addr, prefix string) *redis.Engine {
	t.Helper()
	e, err := redis.New(redis.Options{Addrs: []string{addr}, Prefix: prefix, OpTimeout: 500 * time.Millisecond, DialTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestInstancesShareOneFirstKey: N engines (N clients, as N Caddy
// instances) racing for the first signing key store exactly one, and fn
// runs once in all.
func TestInstancesShareOneFirstKey(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{})
	const n = 8
	var generated atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	kids := make([]string, n)
	for i := range n {
		e := openEngine(t, srv.Addr, "race:")
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			keys, err := e.UpdateSigningKeys(context.Background(), "https://iss", func(cur []store.SigningKey) ([]store.SigningKey, error) {
				if len(cur) > 0 {
					return cur, nil
				}
				generated.Add(1)
				return []store.SigningKey{{ID: fmt.Sprint("k", i), Alg: "ES256", Private: []byte{1}, CreatedAt: time.Unix(1, 0)}}, nil
			})
			if err != nil || len(keys) != 1 {
				t.Errorf("instance %d: %v %v", i, keys, err)
				return
			}
			kids[i] = keys[0].ID
		}()
	}
	close(start)
	wg.Wait()
	if generated.Load() != 1 {
		t.Fatalf("%d first keys generated, want 1", generated.Load())
	}
	for i := range kids {
		if kids[i] != kids[0] {
			t.Fatalf("instances disagree on the key: %v", kids)
		}
	}
}

// TestNotifications: a change on one instance reaches a subscriber on
// another, and a reconnection after Redis restarted delivers ChangeAll.
func TestNotifications(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{})
	notifications(t, openEngine(t, srv.Addr, "n:"), openEngine(t, srv.Addr, "n:"), func() { srv.Restart(t) })
}

// TestNotificationsCluster: the same on a Cluster (PUBLISH reaches a
// subscriber connected to any node).
func TestNotificationsCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: not in -short")
	}
	t.Parallel()
	cl := cluster.Get(t)
	prefix := unique("n")
	open := func() *redis.Engine {
		e, err := redis.New(redis.Options{Addrs: cl.Addrs(), Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	notifications(t, open(), open(), nil)
}

func notifications(t *testing.T, a, b *redis.Engine, restart func()) {
	got := make(chan store.Change, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.SubscribeChanges(ctx, func(c store.Change) { got <- c })
	wait := func(kind store.ChangeKind, key string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case c := <-got:
				if c.Kind == kind && c.Key == key {
					return
				}
			case <-timeout:
				t.Fatalf("no %s %q notification", kind, key)
			}
		}
	}
	wait(store.ChangeAll, "") // subscribed
	if err := a.Revoke(ctx, "j1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wait(store.ChangeRevocations, "")
	if err := a.PutClient(ctx, store.Client{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	wait(store.ChangeClients, "c1")
	if _, err := a.UpdateSigningKeys(ctx, "https://iss", func([]store.SigningKey) ([]store.SigningKey, error) {
		return []store.SigningKey{{ID: "k", Alg: "ES256", Private: []byte{1}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	wait(store.ChangeSigningKeys, "https://iss")
	// The roles main gained: a client disabled through UpdateClient (the
	// admin API), a not-before revocation, a family revocation (its access
	// tokens' revocations).
	if _, err := a.UpdateClient(ctx, "c1", func(c *store.Client) (*store.Client, error) {
		c.Disabled = true
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	wait(store.ChangeClients, "c1")
	nb := store.NotBefore{Issuer: "https://iss", Kind: store.NotBeforeUser, ID: "alice", At: time.Now(), Until: time.Now().Add(time.Hour)}
	if err := a.SetNotBefore(ctx, nb); err != nil {
		t.Fatal(err)
	}
	wait(store.ChangeNotBefore, "https://iss")
	fam := store.RefreshFamily{ID: "f1", Access: []store.FamilyAccess{{JTI: "fj1", RevokeUntil: time.Now().Add(time.Hour)}}, ExpiresAt: time.Now().Add(time.Hour)}
	if err := a.StartFamily(ctx, fam, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeFamily(ctx, "f1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wait(store.ChangeRevocations, "")
	// A revocation that is no news (an earlier until) publishes nothing;
	// the next message is the one after it.
	_ = a.Revoke(ctx, "j1", time.Now())
	_ = a.DeleteClient(ctx, "c2")
	select {
	case c := <-got:
		if c.Kind != store.ChangeClients || c.Key != "c2" {
			t.Fatalf("after a no-news revocation: %+v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
	if restart != nil {
		restart()
		wait(store.ChangeAll, "") // resubscribed: resync
	}
}

// TestOutage: with Redis stopped every call fails with ErrUnavailable
// (never a success, never a panic) within the op timeout, DownSince tells
// since when; after a restart with AOF everything written before is there,
// and the engine reconnects by itself.
func TestOutage(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{AOF: true})
	e := openEngine(t, srv.Addr, "o:")
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	hash := []byte("0123456789abcdef0123456789abcdef")
	if err := e.PutToken(ctx, store.TokenRecord{Hash: hash, ClientID: "c", ExpiresAt: until}); err != nil {
		t.Fatal(err)
	}
	if err := e.Revoke(ctx, "before", until); err != nil {
		t.Fatal(err)
	}
	if first, err := e.MarkUsed(ctx, "m", until); err != nil || !first {
		t.Fatal(first, err)
	}
	_, cursor, err := e.RevocationsSince(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !e.DownSince().IsZero() {
		t.Fatal("down while up")
	}

	srv.Kill()
	// The calls are independent: they run at once, so that the test waits
	// for go-redis' dial retries of one call, not of seven in a row.
	ops := map[string]func() error{
		"PutToken": func() error {
			return e.PutToken(ctx, store.TokenRecord{Hash: []byte("other-hash-0123456789"), ExpiresAt: until})
		},
		"Revoke":   func() error { return e.Revoke(ctx, "during", until) },
		"GetToken": func() error { _, err := e.GetToken(ctx, hash); return err },
		"MarkUsed": func() error { _, err := e.MarkUsed(ctx, "m2", until); return err },
		"RevocationsSince": func() error {
			_, _, err := e.RevocationsSince(ctx, cursor)
			return err
		},
		"UpdateSigningKeys": func() error {
			_, err := e.UpdateSigningKeys(ctx, "https://iss", func(c []store.SigningKey) ([]store.SigningKey, error) { return c, nil })
			return err
		},
		"RedeemCode": func() error { _, _, err := e.RedeemCode(ctx, hash); return err },
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = map[string]error{}
	)
	for op, call := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := call()
			mu.Lock()
			errs[op] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	for op, err := range errs {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want ErrUnavailable", op, err)
		}
	}
	if e.DownSince().IsZero() {
		t.Fatal("DownSince zero with Redis down")
	}

	srv.Start(t) // same port and data directory: the AOF is replayed
	// The engine reconnects by itself (go-redis redials a failed pool
	// about once a second).
	deadline := time.Now().Add(10 * time.Second)
	for e.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the engine did not reconnect within 10s")
		}
		time.Sleep(50 * time.Millisecond) // polling a reconnection
	}
	rec, err := e.GetToken(ctx, hash)
	if err != nil || rec.ClientID != "c" {
		t.Fatalf("token after restart: %+v %v\n%s", rec, err, srv.LogTail())
	}
	if first, err := e.MarkUsed(ctx, "m", until); err != nil || first {
		t.Fatalf("marker after restart: first=%v err=%v", first, err)
	}
	revs, _, err := e.RevocationsSince(ctx, "")
	if err != nil || len(revs) != 1 || revs[0].JTI != "before" {
		t.Fatalf("revocations after restart: %+v %v", revs, err)
	}
	if !e.DownSince().IsZero() {
		t.Fatal("still down after recovery")
	}
}

// TestCursorAfterDataLoss: a Redis that lost its data (restarted without
// persistence) starts a new feed epoch, and an old cursor reads the new feed
// from the start instead of skipping what was revoked since.
func TestCursorAfterDataLoss(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{})
	e := openEngine(t, srv.Addr, "d:")
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	for i := range 5 {
		if err := e.Revoke(ctx, fmt.Sprint("old", i), until); err != nil {
			t.Fatal(err)
		}
	}
	_, cursor, err := e.RevocationsSince(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	srv.Restart(t) // no AOF: everything is gone
	for i := range 7 {
		if err := e.Revoke(ctx, fmt.Sprint("new", i), until); err != nil {
			t.Fatal(err)
		}
	}
	revs, _, err := e.RevocationsSince(ctx, cursor)
	if err != nil || len(revs) != 7 {
		t.Fatalf("after data loss: %d revocations %v, want all 7 new", len(revs), err)
	}
}

// TestSweepTrustsTheEarlierClock: an instance whose clock runs a day ahead
// does not sweep revocations that are still valid by the server's clock.
func TestSweepTrustsTheEarlierClock(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{})
	ahead, err := redis.New(redis.Options{Addrs: []string{srv.Addr}, Prefix: "skew:", Now: func() time.Time { return time.Now().Add(24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer ahead.Close()
	honest := openEngine(t, srv.Addr, "skew:")
	ctx := context.Background()
	if err := honest.Revoke(ctx, "valid-for-an-hour", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ahead.Revoke(ctx, "other", time.Now().Add(48*time.Hour)); err != nil { // runs the sweep
		t.Fatal(err)
	}
	revs, _, err := honest.RevocationsSince(ctx, "")
	if err != nil || len(revs) != 2 {
		t.Fatalf("after a sweep by a clock running ahead: %+v %v", revs, err)
	}
}
