package redis_test

import (
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
	srv := redisserver.Start(t, redisserver.Options{})
	storetest.Run(t, factory([]string{srv.Addr}, false))
}

// TestConformanceCluster runs the engine suite on a 3-master Redis Cluster:
// every script's keys are in one slot, or Redis refuses it (CROSSSLOT).
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: not in -short")
	}
	cl := redisserver.StartCluster(t, redisserver.Options{})
	storetest.Run(t, factory(cl.Addrs(), true))
}
