package module

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Caddyfile argument helpers shared by authgate's directives.

func argOne(d *caddyfile.Dispenser) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.ArgErr()
	}
	return args[0], nil
}

// argOneKeepBlock reads exactly one argument on the line, leaving an
// optional block that follows for the caller.
func argOneKeepBlock(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

func argAppend(d *caddyfile.Dispenser, dst []string) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return append(dst, args...), nil
}

func argDuration(d *caddyfile.Dispenser) (caddy.Duration, error) {
	s, err := argOne(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("invalid duration %q: %v", s, err)
	}
	return caddy.Duration(dur), nil
}

func argNone(d *caddyfile.Dispenser, set func()) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	set()
	return nil
}
