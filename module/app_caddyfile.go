package module

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("authgate", parseAuthgateGlobal)
}

// parseAuthgateGlobal parses the `authgate` global option:
//
//	{
//		authgate {
//			storage bolt [<path>]    # or another authgate.storage.<engine>
//			encryption_key <kek>
//			previous_encryption_key <kek>
//		}
//	}
func parseAuthgateGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the authgate global option is given twice")
	}
	app := new(App)
	d.Next() // option name
	if err := argEnd(d); err != nil {
		return nil, err
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "storage":
			// storage <engine> ...: the engine's module parses the rest.
			if app.StorageRaw != nil {
				return nil, d.Err("duplicate subdirective \"storage\"")
			}
			name, err := argNext(d)
			if err != nil {
				return nil, err
			}
			id := "authgate.storage." + name
			if _, err := caddy.GetModule(id); err != nil {
				return nil, d.Errf("unknown storage engine %q (supported: %s)", name, storageEngineNames())
			}
			unm, err := caddyfile.UnmarshalModule(d, id)
			if err != nil {
				return nil, err
			}
			app.StorageRaw = caddyconfig.JSONModuleObject(unm, "engine", name, nil)
		case "encryption_key":
			if app.EncryptionKey != "" {
				return nil, d.Err("duplicate subdirective \"encryption_key\"")
			}
			v, err := argOne(d)
			if err != nil {
				return nil, err
			}
			app.EncryptionKey = v
		case "previous_encryption_key":
			v, err := argOne(d)
			if err != nil {
				return nil, err
			}
			app.PreviousEncryptionKeys = append(app.PreviousEncryptionKeys, v)
		default:
			return nil, d.Errf("unknown subdirective %q", d.Val())
		}
	}
	return httpcaddyfile.App{Name: "authgate", Value: caddyconfig.JSON(app, nil)}, nil
}
