package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
)

// TestUpdateSigningKeysOutwaitsADeadHolder: the signing-key lock of an
// instance that died holding it lives out its lease. A key update waits for
// it, past OpTimeout (which bounds each command, not the wait), and then
// writes.
func TestUpdateSigningKeysOutwaitsADeadHolder(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{})
	e := boundEngine(t, srv.Addr)
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer raw.Close()
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
