// Package module is the only package of authgate that imports Caddy: the
// authgate app, the handler and matcher modules, Caddyfile parsing, metrics.
package module

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/store"
)

func init() {
	caddy.RegisterModule(new(App))
}

// App is the `authgate` app: process-wide state shared by every authgate
// handler of a config — the storage engine and the registry of in-process
// issuers that gateways trust without HTTP. Configure it with the `authgate`
// global option; without one it runs with defaults.
type App struct {
	// Storage selects where the issuer keeps signing keys, opaque tokens,
	// revocations and registered clients. Default: bolt at
	// `<caddy data dir>/authgate/authgate.db`.
	Storage *StorageConfig `json:"storage,omitempty"`

	ctx    caddy.Context
	logger *zap.Logger

	mu         sync.RWMutex
	issuers    map[string]gateway.LocalIssuer
	paths      map[string]string // origin + path -> issuer URL answering it
	stores     []string          // pool keys this config holds
	startHooks []func() error
}

// StorageConfig configures the persistence engine.
type StorageConfig struct {
	// Engine is the storage engine; only "bolt" (embedded bbolt file) exists.
	Engine string `json:"engine,omitempty"`
	// Path is the bbolt file. Default: `<caddy data dir>/authgate/authgate.db`.
	Path string `json:"path,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "authgate", New: func() caddy.Module { return new(App) }}
}

// Provision sets defaults; the store is opened lazily, by the first issuer.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	a.issuers = make(map[string]gateway.LocalIssuer)
	a.paths = make(map[string]string)
	if a.Storage == nil {
		a.Storage = new(StorageConfig)
	}
	if a.Storage.Engine == "" {
		a.Storage.Engine = "bolt"
	}
	if a.Storage.Path == "" {
		a.Storage.Path = filepath.Join(caddy.AppDataDir(), "authgate", "authgate.db")
	}
	return nil
}

// Validate checks the storage engine.
func (a *App) Validate() error {
	if a.Storage.Engine != "bolt" {
		return fmt.Errorf("authgate: unknown storage engine %q (supported: bolt)", a.Storage.Engine)
	}
	return nil
}

// Start implements caddy.App: it runs the start hooks of this config's
// handlers (e.g. the first key set fetches), which `caddy validate` never
// reaches.
func (a *App) Start() error {
	a.mu.RLock()
	hooks := a.startHooks
	a.mu.RUnlock()
	for _, hook := range hooks {
		if err := hook(); err != nil {
			return err
		}
	}
	return nil
}

// onStart registers fn to run when the app starts, after every handler of
// the config was provisioned; an error fails the config start.
func (a *App) onStart(fn func() error) {
	a.mu.Lock()
	a.startHooks = append(a.startHooks, fn)
	a.mu.Unlock()
}

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup releases this config's hold on the shared store; the file stays
// open while a newer config still uses it.
func (a *App) Cleanup() error {
	var firstErr error
	for _, key := range a.stores {
		if _, err := storePool.Delete(key); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	a.stores = nil
	return firstErr
}

// Store returns the shared storage engine, opening it on first use. One
// bbolt file is opened once per process and kept across config reloads.
func (a *App) Store() (store.Store, error) {
	key := a.Storage.Engine + ":" + a.Storage.Path
	val, _, err := storePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		db, err := store.OpenBolt(a.Storage.Path, store.BoltOptions{})
		if err != nil {
			return nil, err
		}
		a.logger.Info("storage opened", zap.String("engine", a.Storage.Engine), zap.String("path", a.Storage.Path))
		return &pooledStore{db}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("authgate storage: %w", err)
	}
	a.mu.Lock()
	a.stores = append(a.stores, key)
	a.mu.Unlock()
	return val.(*pooledStore).Store, nil
}

// RegisterIssuer makes an in-process issuer known to the gateways of this
// config. Two issuers with the same URL in one config are an error.
func (a *App) RegisterIssuer(iss gateway.LocalIssuer) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	url := iss.IssuerURL()
	if _, dup := a.issuers[url]; dup {
		return fmt.Errorf("authgate_issuer %q is configured twice", url)
	}
	a.issuers[url] = iss
	return nil
}

// claimIssuerPaths records the paths an issuer answers on its origin and
// refuses a path another issuer of this config answers there: the first
// issuer in the route would silently answer for both (its metadata, its
// JWKS, its token endpoint).
func (a *App) claimIssuerPaths(issuerURL, origin string, paths []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range paths {
		if other, dup := a.paths[origin+p]; dup && other != issuerURL {
			return fmt.Errorf("authgate_issuer %q and %q both answer %s%s: give each issuer its own path_prefix, and issuers on one origin distinct issuer URL paths (the well-known metadata and JWKS paths derive from them)", other, issuerURL, origin, p)
		}
	}
	for _, p := range paths {
		a.paths[origin+p] = issuerURL
	}
	return nil
}

// LocalIssuer returns the in-process issuer with this URL, if any. Gateways
// call it lazily (on first use), after every handler was provisioned.
func (a *App) LocalIssuer(url string) (gateway.LocalIssuer, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	iss, ok := a.issuers[url]
	return iss, ok
}

// authgateApp fetches the app from a handler's context (creating it with
// defaults when the config has no `authgate` global option).
func authgateApp(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("authgate")
	if err != nil {
		return nil, err
	}
	return v.(*App), nil
}

var storePool = caddy.NewUsagePool()

type pooledStore struct{ store.Store }

func (p *pooledStore) Destruct() error { return p.Close() }

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
