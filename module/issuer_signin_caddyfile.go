package module

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// issRepeatable are the authgate_issuer subdirectives that may appear more
// than once.
var issRepeatable = map[string]bool{"client": true, "user": true, "scope_description": true}

// unmarshalSignIn reads the sign-in subdirectives of authgate_issuer:
//
//	user <name> {
//		password_hash <argon2id|bcrypt hash>
//		claim <name> <value>...
//		disabled
//	}
//	users_file <path>
//	session_ttl <duration>
//	consent_ttl <duration>
//	templates <dir>
//	scope_description <scope> <text>
//
// It reports whether name was one of them.
func (s *IssuerSignIn) unmarshalSignIn(d *caddyfile.Dispenser, name string) (bool, error) {
	switch name {
	case "user":
		u, err := unmarshalIssuerUser(d)
		if err != nil {
			return true, err
		}
		for _, o := range s.Users {
			if o.Name == u.Name {
				return true, d.Errf("user %q is defined twice", u.Name)
			}
		}
		s.Users = append(s.Users, u)
	case "users_file":
		return true, issOneArg(d, &s.UsersFile)
	case "session_ttl":
		return true, issDurationArg(d, &s.SessionTTL)
	case "consent_ttl":
		return true, issDurationArg(d, &s.ConsentTTL)
	case "templates":
		return true, issOneArg(d, &s.Templates)
	case "scope_description":
		args := d.RemainingArgs()
		if len(args) != 2 {
			return true, d.Errf("scope_description takes a scope and a text (quote a text with spaces)")
		}
		if _, dup := s.ScopeDescriptions[args[0]]; dup {
			return true, d.Errf("scope_description %q is given twice", args[0])
		}
		if s.ScopeDescriptions == nil {
			s.ScopeDescriptions = map[string]string{}
		}
		s.ScopeDescriptions[args[0]] = args[1]
	default:
		return false, nil
	}
	return true, nil
}

func unmarshalIssuerUser(d *caddyfile.Dispenser) (*IssuerUser, error) {
	u := new(IssuerUser)
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	u.Name = d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if name != "claim" {
			if seen[name] {
				return nil, d.Errf("user %q: duplicate subdirective %q", u.Name, name)
			}
			seen[name] = true
		}
		switch name {
		case "password_hash":
			if err := issOneArg(d, &u.PasswordHash); err != nil {
				return nil, err
			}
		case "claim":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return nil, d.Errf("user %q: claim takes a name and one or more values", u.Name)
			}
			if _, dup := u.Claims[args[0]]; dup {
				return nil, d.Errf("user %q: claim %q is given twice (list every value on one line)", u.Name, args[0])
			}
			if u.Claims == nil {
				u.Claims = map[string]any{}
			}
			// One value is a string; several are an array (groups).
			if len(args) == 2 {
				u.Claims[args[0]] = args[1]
			} else {
				vals := make([]any, 0, len(args)-1)
				for _, v := range args[1:] {
					vals = append(vals, v)
				}
				u.Claims[args[0]] = vals
			}
		case "disabled":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			u.Disabled = true
		default:
			return nil, d.Errf("user %q: unknown subdirective %q", u.Name, name)
		}
	}
	if u.PasswordHash == "" {
		return nil, d.Errf("user %q: needs a password_hash", u.Name)
	}
	return u, nil
}
