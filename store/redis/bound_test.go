package redis_test

import (
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/redis"
)

// boundOpTimeout is the OpTimeout of the bound tests; a call may take at most
// three times as long before they fail (generous: they run in parallel on a
// shared machine; without the bound the same calls take 1.5 s to tens of
// seconds).
const boundOpTimeout = 400 * time.Millisecond

// everyCall is one call of every role method (and Ping), with valid
// arguments: with Redis up each succeeds or finds nothing.
func everyCall(e *redis.Engine) map[string]func(context.Context) error {
	until := time.Now().Add(time.Hour)
	hash := []byte("bound-hash-0123456789abcdef012345")
	keep := func(c []store.SigningKey) ([]store.SigningKey, error) { return c, nil }
	fam := store.RefreshFamily{ID: "bound-fam", ExpiresAt: until}
	return map[string]func(context.Context) error{
		"Ping":              e.Ping,
		"SigningKeys":       func(ctx context.Context) error { _, err := e.SigningKeys(ctx, "https://iss"); return err },
		"UpdateSigningKeys": func(ctx context.Context) error { _, err := e.UpdateSigningKeys(ctx, "https://iss", keep); return err },
		"PutToken": func(ctx context.Context) error {
			return e.PutToken(ctx, store.TokenRecord{Hash: hash, ClientID: "c", ExpiresAt: until})
		},
		"GetToken":         func(ctx context.Context) error { _, err := e.GetToken(ctx, hash); return err },
		"DeleteToken":      func(ctx context.Context) error { return e.DeleteToken(ctx, hash) },
		"Revoke":           func(ctx context.Context) error { return e.Revoke(ctx, "bound-jti", until) },
		"RevocationsSince": func(ctx context.Context) error { _, _, err := e.RevocationsSince(ctx, ""); return err },
		"MarkUsed":         func(ctx context.Context) error { _, err := e.MarkUsed(ctx, "bound-marker", until); return err },
		"PutClient":        func(ctx context.Context) error { return e.PutClient(ctx, store.Client{ID: "bound-c"}) },
		"GetClient":        func(ctx context.Context) error { _, err := e.GetClient(ctx, "bound-c"); return err },
		"DeleteClient":     func(ctx context.Context) error { return e.DeleteClient(ctx, "bound-c") },
		"Clients":          func(ctx context.Context) error { _, err := e.Clients(ctx); return err },
		"UpdateClient": func(ctx context.Context) error {
			_, err := e.UpdateClient(ctx, "bound-c", func(c *store.Client) (*store.Client, error) { return c, nil })
			return err
		},
		"ClientsVersion": func(ctx context.Context) error { _, err := e.ClientsVersion(ctx); return err },
		"SetNotBefore": func(ctx context.Context) error {
			return e.SetNotBefore(ctx, store.NotBefore{Issuer: "https://iss", Kind: store.NotBeforeUser, ID: "alice", At: time.Now(), Until: until})
		},
		"NotBefores": func(ctx context.Context) error { _, err := e.NotBefores(ctx, "https://iss"); return err },
		"PutSession": func(ctx context.Context) error {
			return e.PutSession(ctx, store.Session{Kind: "sso", ID: "s1", ExpiresAt: until})
		},
		"GetSession":    func(ctx context.Context) error { _, err := e.GetSession(ctx, "sso", "s1"); return err },
		"DeleteSession": func(ctx context.Context) error { return e.DeleteSession(ctx, "sso", "s1") },
		"PutCode": func(ctx context.Context) error {
			return e.PutCode(ctx, store.CodeRecord{Hash: hash, ExpiresAt: until})
		},
		"RedeemCode":  func(ctx context.Context) error { _, _, err := e.RedeemCode(ctx, hash); return err },
		"StartFamily": func(ctx context.Context) error { return e.StartFamily(ctx, fam, nil) },
		"RotateRefresh": func(ctx context.Context) error {
			_, _, err := e.RotateRefresh(ctx, hash, func(old store.RefreshRecord) (store.RefreshRecord, error) { return old, nil })
			return err
		},
		"GetRefresh":   func(ctx context.Context) error { _, err := e.GetRefresh(ctx, hash); return err },
		"RevokeFamily": func(ctx context.Context) error { _, err := e.RevokeFamily(ctx, "bound-fam-revoked", until); return err },
		"PutUser":      func(ctx context.Context) error { return e.PutUser(ctx, store.UserRecord{Name: "alice"}) },
		"GetUser":      func(ctx context.Context) error { _, err := e.GetUser(ctx, "alice"); return err },
		"DeleteUser":   func(ctx context.Context) error { return e.DeleteUser(ctx, "alice") },
		"Users":        func(ctx context.Context) error { _, err := e.Users(ctx); return err },
	}
}

// TestEveryCallCoversEngine: everyCall has every method of store.Engine
// (but Close), so a new role cannot escape the bound tests.
func TestEveryCallCoversEngine(t *testing.T) {
	t.Parallel()
	e, err := redis.New(redis.Options{Addrs: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var want []string
	typ := reflect.TypeFor[store.Engine]()
	for i := range typ.NumMethod() {
		if name := typ.Method(i).Name; name != "Close" {
			want = append(want, name)
		}
	}
	want = append(want, "Ping")
	var got []string
	for name := range everyCall(e) {
		got = append(got, name)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("everyCall has %v,\nstore.Engine (and Ping) %v", got, want)
	}
}

// checkBounded runs every call at once, each on an engine of its own (a
// pool of its own, as the first calls after an outage begins: go-redis
// fails later calls of a pool fast once its dials failed), made by open,
// with the caller's context carrying no deadline; each must fail with
// ErrUnavailable within three times the bound.
func checkBounded(t *testing.T, open func() *redis.Engine) {
	t.Helper()
	names := everyCall(open())
	type outcome struct {
		err  error
		took time.Duration
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got = map[string]outcome{}
	)
	for name := range names {
		call := everyCall(open())[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := call(context.Background())
			took := time.Since(start)
			mu.Lock()
			got[name] = outcome{err, took}
			mu.Unlock()
		}()
	}
	wg.Wait()
	var longest time.Duration
	for name, o := range got {
		if !errors.Is(o.err, store.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, o.err)
		}
		if o.took > 3*boundOpTimeout {
			t.Errorf("%s took %s with OpTimeout %s", name, o.took, boundOpTimeout)
		}
		longest = max(longest, o.took)
	}
	t.Logf("%d calls, the longest %s (OpTimeout %s)", len(got), longest, boundOpTimeout)
}

func boundEngine(t *testing.T, addr string) *redis.Engine {
	t.Helper()
	return boundEngineOf(t, "standalone", addr)
}

// boundModes are the three clients of the engine, by what they are given.
var boundModes = map[string]redis.Options{
	"standalone": {},
	"cluster":    {Cluster: true},      // addr is a seed
	"sentinel":   {MasterName: "main"}, // addr is a Sentinel
}

func boundEngineOf(t *testing.T, mode, addr string) *redis.Engine {
	t.Helper()
	o := boundModes[mode]
	o.Addrs, o.Prefix, o.OpTimeout = []string{addr}, "bound:", boundOpTimeout
	// DialTimeout stays the default (2 s): longer than the bound, which
	// must hold anyway.
	e, err := redis.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// eachMode runs check as a parallel subtest per client mode.
func eachMode(t *testing.T, check func(t *testing.T, mode string)) {
	for mode := range boundModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			check(t, mode)
		})
	}
}

// TestBoundRefused: with Redis stopped (connections refused) every call of
// an engine that was connected fails with ErrUnavailable within the bound.
func TestBoundRefused(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{})
	var engines []*redis.Engine
	for range len(everyCall(boundEngine(t, srv.Addr))) + 1 {
		e := boundEngine(t, srv.Addr)
		if err := e.Ping(context.Background()); err != nil { // connects the engine's pool
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	// Every call works with Redis up.
	for name, call := range everyCall(engines[0]) {
		if err := call(context.Background()); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s with Redis up: %v", name, err)
		}
	}
	srv.Kill()
	next := 0
	checkBounded(t, func() *redis.Engine { next++; return engines[next-1] })
}

// TestBoundSilentServer: a server that accepts connections and never
// answers (a hung Redis, a proxy whose backend is gone): every call fails
// with ErrUnavailable within the bound (the read-timeout path), as a
// standalone server, a Cluster seed or a Sentinel.
func TestBoundSilentServer(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, mode string) {
		addr := silentAddr(t)
		checkBounded(t, func() *redis.Engine { return boundEngineOf(t, mode, addr) })
	})
}

// silentAddr is a listener that accepts connections, reads what comes and
// never answers.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return l.Addr().String()
}

// TestBoundCallerCancel: a caller cancelling before the bound ends the call
// at once, as the caller's context error (not ErrUnavailable).
func TestBoundCallerCancel(t *testing.T) {
	t.Parallel()
	addr := unansweredAddr(t)
	e := boundEngine(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := e.GetToken(ctx, []byte("bound-hash-0123456789abcdef012345")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled by the caller: %v, want context.Canceled", err)
	}
}
