// Package module is the only package of authgate that imports Caddy: the
// authgate app, the handler and matcher modules, Caddyfile parsing, metrics.
package module

import (
	"encoding/json"
	"fmt"
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
	// StorageRaw selects where the issuer keeps signing keys, opaque tokens,
	// revocations and registered clients: a module of the
	// `authgate.storage` namespace, named by "engine" (bolt, memory, redis).
	// Default: bolt at `<caddy data dir>/authgate/authgate.db`.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=authgate.storage inline_key=engine"`
	// EncryptionKey is the key-encryption key (32 bytes, base64 or hex;
	// e.g. {env.AUTHGATE_KEK}): private signing keys and session data are
	// stored encrypted with AES-256-GCM under it, in every engine. Without
	// it they are stored in the clear (a warning at start).
	EncryptionKey string `json:"encryption_key,omitempty"`
	// PreviousEncryptionKeys still decrypt (during a KEK rotation); records
	// are re-encrypted under EncryptionKey when next written.
	PreviousEncryptionKeys []string `json:"previous_encryption_keys,omitempty"`

	storage StorageEngine
	keyring *store.Keyring
	ctx     caddy.Context
	logger  *zap.Logger

	mu         sync.RWMutex
	issuers    map[string]gateway.LocalIssuer
	paths      map[string]string // origin + path -> issuer URL answering it
	stores     []string          // pool keys this config holds
	startHooks []func() error
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "authgate", New: func() caddy.Module { return new(App) }}
}

// Provision loads the storage engine's module (default bolt); the engine
// itself is opened lazily, by the first issuer.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	a.issuers = make(map[string]gateway.LocalIssuer)
	a.paths = make(map[string]string)
	if err := a.provisionKeyring(); err != nil {
		return err
	}
	if a.StorageRaw == nil {
		bolt := new(BoltStorage)
		if err := bolt.Provision(ctx); err != nil {
			return err
		}
		a.storage = bolt
		return nil
	}
	mod, err := ctx.LoadModule(a, "StorageRaw")
	if err != nil {
		return fmt.Errorf("authgate: storage (engines: %s): %w", storageEngineNames(), err)
	}
	eng, ok := mod.(StorageEngine)
	if !ok {
		return fmt.Errorf("authgate: storage module %T is not a StorageEngine", mod)
	}
	a.storage = eng
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

// Store returns the shared storage engine, opening it on first use. An
// engine (e.g. one bbolt file) is opened once per process and kept across
// config reloads that keep its storage config.
func (a *App) Store() (store.Engine, error) {
	key := a.storage.StorageKey()
	val, _, err := storePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		eng, err := a.storage.OpenStorage(a.ctx)
		if err != nil {
			return nil, err
		}
		a.logger.Info("storage opened", zap.String("engine", a.storage.CaddyModule().ID.Name()), zap.String("storage", key))
		return &pooledStore{eng}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("authgate storage: %w", err)
	}
	a.mu.Lock()
	a.stores = append(a.stores, key)
	a.mu.Unlock()
	return a.encrypted(val.(*pooledStore).Engine), nil
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

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
