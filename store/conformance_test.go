package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/storetest"
)

// TestBoltConformance runs the engine suite on a real file.
func TestBoltConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Engine {
		b, err := store.OpenBolt(filepath.Join(t.TempDir(), "authgate.db"), store.BoltOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
