package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/redis"
)

// TestUpdateSigningKeysOutwaitsADeadHolder: the signing-key lock of an
// instance that died holding it lives out its lease. A key update waits for
// it, past OpTimeout (which bounds each command, not the wait), and then
// writes.
func TestUpdateSigningKeysOutwaitsADeadHolder(t *testing.T) {
	t.Parallel()
	e, raw := lockTestEngine(t)
	held := 3 * boundOpTimeout
	if err := raw.Set(context.Background(), "bound:{sk:https://dead-holder}:lock", "dead instance", held).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	key := store.SigningKey{ID: "k1", Alg: "ES256", Private: []byte("private"), CreatedAt: start}
	got, err := e.UpdateSigningKeys(context.Background(), "https://dead-holder", func([]store.SigningKey) ([]store.SigningKey, error) {
		return []store.SigningKey{key}, nil
	})
	if err != nil {
		t.Fatalf("after %s: %v (the lock was held for %s, OpTimeout %s)", time.Since(start), err, held, boundOpTimeout)
	}
	if len(got) != 1 || got[0].ID != "k1" {
		t.Fatalf("wrote %+v", got)
	}
	if stored, err := e.SigningKeys(context.Background(), "https://dead-holder"); err != nil || len(stored) != 1 {
		t.Fatalf("stored %+v, %v", stored, err)
	}
}

// TestUpdateSigningKeysFreesTheLockOfACallOutOfTime: a key update whose
// time runs out while fn works (here the caller's deadline, inside fn)
// fails, and still frees its lease lock: the other instances' updates do
// not wait out the lease for a holder that is alive and has given up.
func TestUpdateSigningKeysFreesTheLockOfACallOutOfTime(t *testing.T) {
	t.Parallel()
	e, raw := lockTestEngine(t)
	const issuer = "https://slow-fn"
	lock := "bound:{sk:" + issuer + "}:lock"
	ctx, cancel := context.WithTimeout(context.Background(), boundOpTimeout/4)
	defer cancel()
	_, err := e.UpdateSigningKeys(ctx, issuer, func([]store.SigningKey) ([]store.SigningKey, error) {
		if n, err := raw.Exists(context.Background(), lock).Result(); err != nil || n != 1 {
			t.Errorf("fn runs without the lock held: %d, %v", n, err)
		}
		<-ctx.Done() // fn outlasts the call's time
		return []store.SigningKey{{ID: "k1", Alg: "ES256", Private: []byte("private"), CreatedAt: time.Now()}}, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("update past the caller's deadline: %v, want context.DeadlineExceeded", err)
	}
	if n, err := raw.Exists(context.Background(), lock).Result(); err != nil || n != 0 {
		ttl, _ := raw.PTTL(context.Background(), lock).Result()
		t.Fatalf("the lock is still held after the call returned (%d, %v; it lives %s more)", n, err, ttl)
	}
	if keys, err := e.SigningKeys(context.Background(), issuer); err != nil || len(keys) != 0 {
		t.Fatalf("stored %+v, %v: nothing may be written", keys, err)
	}
}

// lockTestEngine is a bound engine on a Redis of its own and a plain client
// of that Redis, to look at the lock from outside.
func lockTestEngine(t *testing.T) (*redis.Engine, *goredis.Client) {
	t.Helper()
	srv := redisserver.Start(t, redisserver.Options{})
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	return boundEngine(t, srv.Addr), raw
}
