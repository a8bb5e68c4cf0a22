package module

import (
	"context"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	storeredis "github.com/authgate/caddy-authgate/store/redis"
)

// TestDPoPReplayShared: on Redis storage a gateway records DPoP proof jtis
// in the store, so a proof seen by one instance is a replay at every other
// (here: a second engine on the same Redis, as another process has); on
// bolt it keeps its own in-memory cache.
func TestDPoPReplayShared(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Options{FirstPort: 6450, LastPort: 6499})
	app, err := provisionApp(t, `{"storage":{"engine":"redis","urls":["redis://`+srv.Addr+`"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	h := &Gateway{DPoP: gateway.DPoPRequired}
	cfg, err := h.dpopConfig(app)
	if err != nil {
		t.Fatal(err)
	}
	replay, ok := cfg.Verifier.Replay.(storeReplay)
	if !ok {
		t.Fatalf("replay marker on redis = %T, want the shared store", cfg.Verifier.Replay)
	}
	other, err := storeredis.New(storeredis.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if first, err := replay.MarkUsed(ctx, "dpop:jti-1", until); err != nil || !first {
		t.Fatalf("first use here: %v %v", first, err)
	}
	if first, err := other.MarkUsed(ctx, "dpop:jti-1", until); err != nil || first {
		t.Fatalf("the same proof at another instance: first=%v %v, want a replay", first, err)
	}
	if first, err := other.MarkUsed(ctx, "dpop:jti-2", until); err != nil || !first {
		t.Fatalf("another proof there: %v %v", first, err)
	}
	if first, err := replay.MarkUsed(ctx, "dpop:jti-2", until); err != nil || first {
		t.Fatalf("that proof back here: first=%v %v, want a replay", first, err)
	}

	bolt, err := provisionApp(t, `{"storage":{"engine":"bolt","path":"`+t.TempDir()+`/s.db"}}`)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = (&Gateway{DPoP: gateway.DPoPRequired}).dpopConfig(bolt)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Verifier.Replay.(*gateway.ReplayCache); !ok {
		t.Fatalf("replay marker on bolt = %T, want the in-memory cache", cfg.Verifier.Replay)
	}
}
