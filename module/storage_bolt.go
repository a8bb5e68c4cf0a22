package module

import (
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/authgate/caddy-authgate/store"
)

func init() {
	caddy.RegisterModule(new(BoltStorage))
}

// BoltStorage is the default storage engine: one embedded bbolt file
// (fsynced on every write, mode 0600, locked against a second process). It
// deletes expired records every 10 minutes.
type BoltStorage struct {
	// Path is the bbolt file. Default: `<caddy data dir>/authgate/authgate.db`.
	Path string `json:"path,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*BoltStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "authgate.storage.bolt", New: func() caddy.Module { return new(BoltStorage) }}
}

// Provision sets the default path; it opens nothing.
func (b *BoltStorage) Provision(caddy.Context) error {
	if b.Path == "" {
		b.Path = filepath.Join(caddy.AppDataDir(), "authgate", "authgate.db")
	}
	return nil
}

// StorageKey implements StorageEngine.
func (b *BoltStorage) StorageKey() string { return "bolt:" + b.Path }

// OpenStorage implements StorageEngine.
func (b *BoltStorage) OpenStorage(ctx caddy.Context) (store.Engine, error) {
	return store.OpenBolt(b.Path, store.BoltOptions{Logger: ctx.Slogger()})
}

// UnmarshalCaddyfile parses `bolt [<path>]` (after `storage`).
func (b *BoltStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // engine name
	if d.NextArg() {
		b.Path = d.Val()
	}
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
	_ StorageEngine         = (*BoltStorage)(nil)
	_ caddy.Provisioner     = (*BoltStorage)(nil)
	_ caddyfile.Unmarshaler = (*BoltStorage)(nil)
)
