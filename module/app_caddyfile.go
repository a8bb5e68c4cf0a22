package module

import (
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
//			storage bolt [<path>]
//		}
//	}
func parseAuthgateGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the authgate global option is given twice")
	}
	app := new(App)
	d.Next() // option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "storage":
			if app.Storage != nil {
				return nil, d.Err("duplicate subdirective \"storage\"")
			}
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return nil, d.ArgErr()
			}
			if args[0] != "bolt" {
				return nil, d.Errf("unknown storage engine %q (supported: bolt)", args[0])
			}
			app.Storage = &StorageConfig{Engine: args[0]}
			if len(args) == 2 {
				app.Storage.Path = args[1]
			}
		default:
			return nil, d.Errf("unknown subdirective %q", d.Val())
		}
	}
	return httpcaddyfile.App{Name: "authgate", Value: caddyconfig.JSON(app, nil)}, nil
}
