package module

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
)

func init() {
	caddy.RegisterModule(new(MemoryStorage))
}

// MemoryStorage keeps everything in memory: for tests and trying authgate
// out. Config reloads keep the records; a restart loses them, signing keys
// included, so every token issued before it stops verifying.
type MemoryStorage struct{}

// CaddyModule returns the Caddy module information.
func (*MemoryStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "authgate.storage.memory", New: func() caddy.Module { return new(MemoryStorage) }}
}

// StorageKey implements StorageEngine: one memory engine per process.
func (*MemoryStorage) StorageKey() string { return "memory" }

// OpenStorage implements StorageEngine.
func (*MemoryStorage) OpenStorage(caddy.Context) (store.Engine, error) {
	return memory.New(memory.Options{}), nil
}

// UnmarshalCaddyfile parses `memory` (after `storage`).
func (*MemoryStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // engine name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unknown subdirective %q", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ StorageEngine         = (*MemoryStorage)(nil)
	_ caddyfile.Unmarshaler = (*MemoryStorage)(nil)
)
