package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/redis"
	"github.com/authgate/caddy-authgate/store/storetest"
)

var prefixes atomic.Int64

// factory opens engines on addrs, each under a prefix of its own, so that
// every case sees a fresh, empty engine on one server.
func factory(addrs []string, cluster bool) storetest.Factory {
	return func(t *testing.T, now func() time.Time) store.Engine {
		e, err := redis.New(redis.Options{
			Addrs: addrs, Cluster: cluster, Now: now,
			Prefix: fmt.Sprintf("t%d-%d:", time.Now().UnixNano(), prefixes.Add(1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
}

// TestConformanceStandalone runs the engine suite on a real redis-server.
func TestConformanceStandalone(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{})
	storetest.Run(t, factory([]string{srv.Addr}, false))
}

// TestConformanceCluster runs the engine suite on a 3-master Redis Cluster:
// every script's keys are in one slot, or Redis refuses it (CROSSSLOT).
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: not in -short")
	}
	t.Parallel()
	storetest.Run(t, factory(cluster.Get(t).Addrs(), true))
}

// TestConformanceSentinel runs the engine suite through a Sentinel: the
// client asks it for the master and talks to that.
func TestConformanceSentinel(t *testing.T) {
	t.Parallel()
	master := redisserver.Start(t, redisserver.Options{})
	sentinel := redisserver.StartSentinel(t, master, "authgate-master", redisserver.Options{})
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Engine {
		e, err := redis.New(redis.Options{
			Addrs: []string{sentinel.Addr}, MasterName: "authgate-master", Now: now,
			Prefix: fmt.Sprintf("s%d-%d:", time.Now().UnixNano(), prefixes.Add(1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

// TestPassword: a server with requirepass serves an engine with the
// password and refuses one without it (ErrUnavailable, never a success).
func TestPassword(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{Args: []string{"--requirepass", "s3cret"}})
	ctx := context.Background()
	good, err := redis.New(redis.Options{Addrs: []string{srv.Addr}, Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.PutClient(ctx, store.Client{ID: "c"}); err != nil {
		t.Fatalf("with the password: %v", err)
	}
	bad, err := redis.New(redis.Options{Addrs: []string{srv.Addr}, Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.GetClient(ctx, "c"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("with a wrong password: %v, want ErrUnavailable", err)
	}
	if err := bad.PutClient(ctx, store.Client{ID: "d"}); err == nil {
		t.Fatal("a write with a wrong password succeeded")
	}
}
