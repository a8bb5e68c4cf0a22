package module

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/authgate/caddy-authgate/ipfilter"
)

// Caddyfile argument helpers shared by authgate's directives (the gateway,
// the app's global option and the ip_list matcher). Errors carry file:line.

// argOne reads exactly one argument: the rest of the line must be empty.
func argOne(d *caddyfile.Dispenser) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.ArgErr()
	}
	return args[0], nil
}

// argNext reads one argument and leaves the rest of the line (and a block
// that follows) for the caller.
func argNext(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	return d.Val(), nil
}

// argEnd is an error if the line has another argument.
func argEnd(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// argOneKeepBlock reads exactly one argument on the line, leaving an
// optional block that follows for the caller.
func argOneKeepBlock(d *caddyfile.Dispenser) (string, error) {
	v, err := argNext(d)
	if err != nil {
		return "", err
	}
	return v, argEnd(d)
}

// argAppend appends the line's arguments, at least one, to dst.
func argAppend(d *caddyfile.Dispenser, dst []string) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return append(dst, args...), nil
}

// argIPEntries appends the line's IP list entries to dst, each checked
// (errors name what); none at all is an error unless optional.
func argIPEntries(d *caddyfile.Dispenser, dst []string, optional bool, what string) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 && !optional {
		return nil, d.ArgErr()
	}
	for _, e := range args {
		if _, err := ipfilter.ParseEntry(e); err != nil {
			return nil, d.Errf("%s: %v", what, err)
		}
	}
	return append(dst, args...), nil
}

// argDuration reads exactly one duration.
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

// argNone is a flag: no arguments; set records it.
func argNone(d *caddyfile.Dispenser, set func()) error {
	if err := argEnd(d); err != nil {
		return err
	}
	set()
	return nil
}
