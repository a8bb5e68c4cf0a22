package module

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
)

// provisionApp provisions an authgate app from its JSON config.
func provisionApp(t *testing.T, cfg string) (*App, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	app := new(App)
	if err := json.Unmarshal([]byte(cfg), app); err != nil {
		t.Fatal(err)
	}
	err := app.Provision(ctx)
	if err == nil {
		t.Cleanup(func() { _ = app.Cleanup() })
	}
	return app, err
}

// TestStorageEngineModules: "storage" names an authgate.storage module by
// its "engine" key; without it the app uses bolt at the default path.
func TestStorageEngineModules(t *testing.T) {
	app, err := provisionApp(t, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := app.storage.(*BoltStorage); !ok || b.Path != filepath.Join(caddy.AppDataDir(), "authgate", "authgate.db") {
		t.Fatalf("default storage = %#v", app.storage)
	}

	path := filepath.Join(t.TempDir(), "a.db")
	app, err = provisionApp(t, `{"storage":{"engine":"bolt","path":`+jsonString(path)+`}}`)
	if err != nil {
		t.Fatal(err)
	}
	st, err := app.Store()
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := unwrap(st).(*store.Bolt); !ok || b.Path() != path {
		t.Fatalf("bolt engine = %#v", st)
	}

	app, err = provisionApp(t, `{"storage":{"engine":"memory"}}`)
	if err != nil {
		t.Fatal(err)
	}
	st, err = app.Store()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := unwrap(st).(*memory.Store); !ok {
		t.Fatalf("memory engine = %#v", st)
	}

	if _, err := provisionApp(t, `{"storage":{"engine":"nosuch"}}`); err == nil ||
		!strings.Contains(err.Error(), "engines: bolt, memory, redis") {
		t.Fatalf("unknown engine: %v", err)
	}
}

// unwrap returns the engine under the app's encrypting wrapper.
func unwrap(e store.Engine) store.Engine {
	if u, ok := e.(interface{ Unwrap() store.Engine }); ok {
		return u.Unwrap()
	}
	return e
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestStorageMemoryCaddyfile(t *testing.T) {
	v, err := parseAuthgateGlobal(caddyfile.NewTestDispenser("authgate {\nstorage memory\n}"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(v.(httpcaddyfile.App).Value); got != `{"storage":{"engine":"memory"}}` {
		t.Fatal(got)
	}
	for _, in := range []string{"authgate {\nstorage memory x\n}", "authgate {\nstorage memory {\nsize 1\n}\n}", "authgate {\nstorage bolt /a {\nsize 1\n}\n}"} {
		if _, err := parseAuthgateGlobal(caddyfile.NewTestDispenser(in), nil); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	_, err = parseAuthgateGlobal(caddyfile.NewTestDispenser("authgate {\nstorage nosuch\n}"), nil)
	if err == nil || !strings.Contains(err.Error(), `unknown storage engine "nosuch" (supported: bolt, memory, redis)`) {
		t.Fatalf("unknown engine: %v", err)
	}
}
