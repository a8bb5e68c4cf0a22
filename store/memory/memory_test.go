package memory_test

import (
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
	"github.com/authgate/caddy-authgate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(_ *testing.T, now func() time.Time) store.Engine {
		return memory.New(memory.Options{Now: now})
	})
}
