package redis_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/redis"
)

// TestSentinelFailover: the master dies and a Sentinel fails it over to
// its replica while an engine works through the Sentinel. Every call
// during the failover ends within the bound (a success or ErrUnavailable),
// and the engine reaches the new master by itself: a token written before
// is there, and a write after lands on the new master.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	const name = "authgate-failover"
	ctx := context.Background()
	master := redisserver.Start(t, redisserver.Options{Args: []string{"--repl-diskless-sync-delay", "0"}})
	replica := redisserver.Start(t, redisserver.Options{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}})
	eventually(t, "the replica in sync", func() bool {
		info, err := replica.Command("INFO", "replication")
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	sentinel := redisserver.StartSentinel(t, master, name, redisserver.Options{})
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: sentinel.Addr})
	defer sc.Close()

	e, err := redis.New(redis.Options{Addrs: []string{sentinel.Addr}, MasterName: name, Prefix: "fo:", OpTimeout: boundOpTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	until := time.Now().Add(time.Hour)
	before := []byte("before-failover-0123456789abcdef")
	if err := e.PutToken(ctx, store.TokenRecord{Hash: before, ClientID: "c", ExpiresAt: until}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Client().Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 { // replicated before the switch
		t.Fatalf("WAIT: %d replicas, %v", n, err)
	}

	// The master dies; the Sentinel learns of the replica from the
	// master's INFO (until then FAILOVER answers NOGOODSLAVE), and is told
	// to fail over at once rather than after down-after-milliseconds.
	eventually(t, "the Sentinel knows the replica", func() bool {
		r, err := sc.Replicas(ctx, name).Result()
		return err == nil && len(r) == 1
	})
	master.Kill()
	// Calls go on all through the failover, until a write succeeds.
	after := []byte("after-failover-0123456789abcdef0")
	type result struct {
		calls, unavailable int
		longest            time.Duration
		err                error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for stop := time.Now().Add(20 * time.Second); time.Now().Before(stop); r.calls++ {
			start := time.Now()
			err := e.PutToken(ctx, store.TokenRecord{Hash: after, ClientID: "c", ExpiresAt: until})
			r.longest = max(r.longest, time.Since(start))
			if err == nil {
				done <- r
				return
			}
			if !errors.Is(err, store.ErrUnavailable) {
				r.err = err
				break
			}
			r.unavailable++
		}
		if r.err == nil {
			r.err = errors.New("no write succeeded within 20s")
		}
		done <- r
	}()
	eventually(t, "a failover started", func() bool { return sc.Failover(ctx, name).Err() == nil })
	eventually(t, "the replica promoted", func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, name).Result()
		return err == nil && net.JoinHostPort(addr[0], addr[1]) == replica.Addr
	})
	r := <-done
	t.Logf("%d calls through the failover, %d ErrUnavailable, the longest %s (OpTimeout %s)", r.calls+1, r.unavailable, r.longest, boundOpTimeout)
	if r.err != nil {
		t.Fatalf("during the failover: %v, want success or ErrUnavailable", r.err)
	}
	if r.longest > 3*boundOpTimeout {
		t.Fatalf("a call took %s during the failover (OpTimeout %s)", r.longest, boundOpTimeout)
	}
	if n, err := replica.Command("EXISTS", "fo:tok:"+hex.EncodeToString(after)); err != nil || n != "1" {
		t.Fatalf("the write after the failover is not on the new master: %q %v", n, err)
	}
	if rec, err := e.GetToken(ctx, before); err != nil || rec.ClientID != "c" {
		t.Fatalf("the token written before the failover: %+v %v", rec, err)
	}
}

// eventually polls cond (every 50 ms, for at most 20 s): for what a real
// server does in its own time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(50 * time.Millisecond) // polling a server's progress, not a timer
	}
}
