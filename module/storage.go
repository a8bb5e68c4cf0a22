package module

import (
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/authgate/caddy-authgate/store"
)

// StorageEngine is a module of the `authgate.storage` namespace: the
// config of one storage engine, which opens it. The `authgate` app loads
// it from `"storage": {"engine": "<name>", ...}`; the Caddyfile's
// `storage <name> ...` hands the rest of the line (and a block) to the
// module's UnmarshalCaddyfile. Adding an engine is one file here
// (storage_<name>.go) plus its package under store/.
type StorageEngine interface {
	caddy.Module
	// StorageKey names what OpenStorage opens (e.g. "bolt:/path"): configs
	// with the same key share one open engine, kept across reloads.
	StorageKey() string
	// OpenStorage opens the engine. It runs once per key and process,
	// when the first issuer starts (never during `caddy validate`); the
	// engine is closed when the last config using it is unloaded.
	OpenStorage(ctx caddy.Context) (store.Engine, error)
}

// storageEngineNames lists the registered engines, for error messages.
func storageEngineNames() string {
	var names []string
	for _, info := range caddy.GetModules("authgate.storage") {
		names = append(names, info.ID.Name())
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// storePool holds the open engines by StorageKey across config reloads.
var storePool = caddy.NewUsagePool()

type pooledStore struct{ store.Engine }

func (p *pooledStore) Destruct() error { return p.Close() }
