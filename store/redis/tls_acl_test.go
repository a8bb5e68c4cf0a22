package redis_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/redis"
	"github.com/authgate/caddy-authgate/store/storetest"
)

func tlsTo(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// TestConformanceTLSACL runs the engine suite on a redis-server that
// speaks only TLS (certificate from a test CA) and admits only an ACL user
// made with ACL SETUSER: scripts, pub/sub and WATCH all work as that user,
// over TLS.
func TestConformanceTLSACL(t *testing.T) {
	t.Parallel()
	srv, pool := redisserver.StartTLS(t, redisserver.Options{FirstPort: 6500, LastPort: 6549})
	srv.ACLOnly(t, "authgate", "acl-pass")
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Engine {
		e, err := redis.New(redis.Options{
			Addrs: []string{srv.Addr}, Username: "authgate", Password: "acl-pass", TLS: tlsTo(pool), Now: now,
			Prefix: fmt.Sprintf("tls%d-%d:", time.Now().UnixNano(), prefixes.Add(1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

// TestTLSACLRefusals: the same server refuses, as ErrUnavailable and
// never a reported success, a client without TLS, one that does not trust
// the server's CA, the ACL user with a wrong password, and a password
// alone (the default user is off).
func TestTLSACLRefusals(t *testing.T) {
	t.Parallel()
	srv, pool := redisserver.StartTLS(t, redisserver.Options{FirstPort: 6500, LastPort: 6549})
	srv.ACLOnly(t, "authgate", "acl-pass")
	ctx := context.Background()
	good, err := redis.New(redis.Options{Addrs: []string{srv.Addr}, Username: "authgate", Password: "acl-pass", TLS: tlsTo(pool)})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.PutClient(ctx, store.Client{ID: "c"}); err != nil {
		t.Fatalf("ACL user over TLS: %v", err)
	}
	if c, err := good.GetClient(ctx, "c"); err != nil || c.ID != "c" {
		t.Fatalf("read back: %+v %v", c, err)
	}
	// Each refusal waits for go-redis' dial retries: they run at once.
	t.Run("refused", func(t *testing.T) {
		for name, o := range map[string]redis.Options{
			"no TLS":             {Username: "authgate", Password: "acl-pass"},
			"untrusted CA":       {Username: "authgate", Password: "acl-pass", TLS: tlsTo(x509.NewCertPool())},
			"wrong name":         {Username: "authgate", Password: "acl-pass", TLS: &tls.Config{RootCAs: pool, ServerName: "redis.example"}},
			"wrong ACL password": {Username: "authgate", Password: "nope", TLS: tlsTo(pool)},
			"password only":      {Password: "acl-pass", TLS: tlsTo(pool)},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				o.Addrs = []string{srv.Addr}
				e, err := redis.New(o)
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				if _, err := e.GetClient(ctx, "c"); !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("read: %v, want ErrUnavailable", err)
				}
				if err := e.PutClient(ctx, store.Client{ID: "d"}); err == nil {
					t.Error("a write succeeded")
				}
			})
		}
	})
	if _, err := good.GetClient(ctx, "d"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused client's write landed: %v", err)
	}
}
