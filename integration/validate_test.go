package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/authgate/caddy-authgate/store"
)

// TestValidateTouchesNoStorage: `caddy validate` provisions every module,
// so the issuer must neither create the store file nor wait for its lock,
// which a running Caddy holds.
func TestValidateTouchesNoStorage(t *testing.T) {
	useInProcessCaddy(t)
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	held := filepath.Join(dir, "held.db")
	db, err := store.OpenBolt(held, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	for _, path := range []string{fresh, held} {
		cfgText := fmt.Sprintf(`{
	admin off
	auto_https off
	authgate {
		storage bolt %s
	}
}
http://127.0.0.1:9430 {
	authgate_issuer {
		issuer http://127.0.0.1:9430
		client ci {
			secret a-long-enough-client-secret-value
			scopes read
		}
	}
	authgate {
		issuer http://127.0.0.1:9430
	}
	respond "ok"
}`, path)
		// Opening the held store would fail with store.ErrLocked.
		if err := validateJSON(t, adaptCaddyfile(t, cfgText)); err != nil {
			t.Fatalf("validate with store %s: %v", filepath.Base(path), err)
		}
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("validate created the store file (stat: %v)", err)
	}
}

// adaptCaddyfile adapts a Caddyfile to JSON, as `caddy adapt` does.
func adaptCaddyfile(t *testing.T, text string) []byte {
	t.Helper()
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), nil)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	return adapted
}

// validateJSON runs `caddy validate` on a JSON config: every module is
// provisioned and validated, nothing is started.
func validateJSON(t *testing.T, config []byte) error {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal(config, &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}
