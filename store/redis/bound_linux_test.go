//go:build linux

package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/redis"
)

// unansweredAddr is an address whose SYNs are never answered, as a host
// behind a firewall that drops them, without root: a listening socket that
// nobody accepts from, with a backlog of 0, whose accept queue one
// connection fills; Linux then drops further SYNs (the client retransmits
// until its deadline). The function checks that a dial times out there.
func unansweredAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 4 { // the first connections fill the accept queue
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return addr // a SYN that nobody answers
			}
			t.Fatalf("filling the accept queue of %s: %v", addr, err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	t.Fatalf("%s still accepts connections with a full accept queue", addr)
	return ""
}

// TestBoundUnansweredHost: Redis behind a host that never answers the SYN:
// every call fails with ErrUnavailable within the bound, though one dial
// attempt alone may take DialTimeout (2 s, the default, here), as a
// standalone server, a Cluster seed or a Sentinel.
func TestBoundUnansweredHost(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, mode string) {
		addr := unansweredAddr(t)
		checkBounded(t, func() *redis.Engine { return boundEngineOf(t, mode, addr) })
	})
}

// TestBoundDialTimeout: a dial attempt that times out (DialTimeout) well
// within the call's bound is ErrUnavailable like any other failure to
// reach Redis, not a context error (a dial's timeout may answer errors.Is
// context.DeadlineExceeded, though the caller's context is alive).
func TestBoundDialTimeout(t *testing.T) {
	t.Parallel()
	addr := unansweredAddr(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := redis.New(redis.Options{Addrs: []string{addr}, OpTimeout: 10 * time.Second, DialTimeout: 50 * time.Millisecond})
			if err != nil {
				t.Error(err)
				return
			}
			defer e.Close()
			_, err = e.GetToken(context.Background(), []byte("bound-hash-0123456789abcdef012345"))
			if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("engine %d, dial timed out: %v, want ErrUnavailable", i, err)
			}
		}()
	}
	wg.Wait()
}
