package module

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
)

// TestStorageRedisTLSACLRoundTrip: the `storage redis` Caddyfile forms with
// TLS (rediss://, or redis:// with `tls`) and an ACL user (`username` and
// `password` from the environment, or in the URL) reach a real
// redis-server that speaks only TLS and admits only that user, through
// Provision and OpenStorage. The test CA is handed to the parsed TLS
// config (the module verifies against the system pool; in production the
// server's CA is there). Without it, or with a wrong user, every call
// fails as ErrUnavailable.
func TestStorageRedisTLSACLRoundTrip(t *testing.T) {
	srv, pool := redisserver.StartTLS(t, redisserver.Options{FirstPort: 6500, LastPort: 6549})
	srv.ACLOnly(t, "authgate", "acl-pass")
	t.Setenv("AG_TEST_REDIS_USER", "authgate")
	t.Setenv("AG_TEST_REDIS_PW", "acl-pass")
	open := func(t *testing.T, body string, trust bool) store.Engine {
		t.Helper()
		v, err := parseAuthgateGlobal(caddyfile.NewTestDispenser("authgate {\n"+body+"\n}"), nil)
		if err != nil {
			t.Fatal(err)
		}
		app, err := provisionApp(t, string(v.(httpcaddyfile.App).Value))
		if err != nil {
			t.Fatal(err)
		}
		r := app.storage.(*RedisStorage)
		if r.opts.TLS == nil {
			t.Fatalf("%s: TLS is off", body)
		}
		if trust {
			r.opts.TLS.RootCAs = pool
		}
		e, err := app.Store()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ctx := context.Background()
	good := map[string]string{
		"rediss:// and subdirectives": fmt.Sprintf("storage redis rediss://%s {\nprefix a:\nusername {env.AG_TEST_REDIS_USER}\npassword {env.AG_TEST_REDIS_PW}\n}", srv.Addr),
		"tls and subdirectives":       fmt.Sprintf("storage redis redis://%s {\nprefix b:\ntls\nusername {env.AG_TEST_REDIS_USER}\npassword {env.AG_TEST_REDIS_PW}\n}", srv.Addr),
		"credentials in the URL":      fmt.Sprintf("storage redis rediss://authgate:acl-pass@%s {\nprefix c:\n}", srv.Addr),
	}
	for name, body := range good {
		t.Run(name, func(t *testing.T) {
			e := open(t, body, true)
			if err := e.PutClient(ctx, store.Client{ID: "web", Name: name}); err != nil {
				t.Fatalf("write: %v", err)
			}
			if c, err := e.GetClient(ctx, "web"); err != nil || c.Name != name {
				t.Fatalf("read back: %+v %v", c, err)
			}
		})
	}
	bad := map[string]struct {
		body  string
		trust bool
	}{
		"untrusted CA":   {fmt.Sprintf("storage redis rediss://%s {\nprefix d:\nusername {env.AG_TEST_REDIS_USER}\npassword {env.AG_TEST_REDIS_PW}\n}", srv.Addr), false},
		"wrong password": {fmt.Sprintf("storage redis rediss://%s {\nprefix e:\nusername authgate\npassword nope\n}", srv.Addr), true},
		"no username":    {fmt.Sprintf("storage redis rediss://%s {\nprefix f:\npassword {env.AG_TEST_REDIS_PW}\n}", srv.Addr), true},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			e := open(t, c.body, c.trust)
			// Each refused call waits for go-redis' dial retries: the
			// read and the write are made at once.
			var readErr error
			read := make(chan struct{})
			go func() {
				defer close(read)
				_, readErr = e.GetClient(ctx, "web")
			}()
			writeErr := e.PutClient(ctx, store.Client{ID: "x"})
			<-read
			if !errors.Is(readErr, store.ErrUnavailable) {
				t.Fatalf("read: %v, want ErrUnavailable", readErr)
			}
			if writeErr == nil || strings.Contains(writeErr.Error(), "acl-pass") {
				t.Fatalf("write: %v", writeErr)
			}
		})
	}
}
