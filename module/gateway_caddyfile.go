package module

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/authgate/caddy-authgate/handlers/gateway"
)

func parseGatewayCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	g := new(Gateway)
	err := g.UnmarshalCaddyfile(h.Dispenser)
	return g, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	authgate [<matcher>] {
//		issuer <url>...
//		jwks <url> [{ refresh_min <d>; refresh_max <d>; refetch_interval <d>; max_stale <d>; timeout <d> }]
//		key <file>
//		hmac_secret <secret>
//		algorithms <alg>...
//		audience <aud>...
//		leeway <duration>
//		token_source header <Name> [<scheme>] | query <param> | cookie <name>
//		scope <scope>...
//		scope_any <scope>...
//		claim <path> <value>...
//		header <Header-Name> <claim-path>
//		strip_token
//		optional
//		cache_size <n>
//		realm <text>
//		allow_ip <entry>...
//		deny_ip <entry>...
//		allow_ip_file <path>
//		deny_ip_file <path>
//	}
//
// Repeatable subdirectives append; the others may appear once.
func (g *Gateway) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if !repeatable[name] {
			if seen[name] {
				return d.Errf("duplicate subdirective %q", name)
			}
			seen[name] = true
		}
		var err error
		switch name {
		case "issuer":
			g.Issuers, err = argAppend(d, g.Issuers)
		case "jwks":
			err = g.parseJWKS(d)
		case "key":
			var path string
			if path, err = argOne(d); err == nil {
				g.Keys = append(g.Keys, path)
			}
		case "hmac_secret":
			g.HMACSecret, err = argOne(d)
		case "algorithms":
			g.Algorithms, err = argAppend(d, nil)
		case "audience":
			g.Audiences, err = argAppend(d, g.Audiences)
		case "leeway":
			var dur caddy.Duration
			if dur, err = argDuration(d); err == nil {
				g.Leeway = &dur
			}
		case "token_source":
			err = g.parseTokenSource(d)
		case "scope":
			g.Scopes, err = argAppend(d, g.Scopes)
		case "scope_any":
			g.ScopeAny, err = argAppend(d, g.ScopeAny)
		case "claim":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Errf("claim needs a path and at least one value")
			}
			g.Claims = append(g.Claims, ClaimRuleConfig{Path: args[0], Values: args[1:]})
		case "header":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("header needs a header name and a claim path")
			}
			g.Headers = append(g.Headers, HeaderConfig{Name: args[0], Claim: args[1]})
		case "strip_token":
			err = argNone(d, func() { g.StripToken = true })
		case "optional":
			err = argNone(d, func() { g.Optional = true })
		case "cache_size":
			var s string
			if s, err = argOne(d); err == nil {
				n, convErr := strconv.Atoi(s)
				if convErr != nil || gateway.CheckCacheSize(n) != nil {
					return d.Errf("cache_size must be an integer from 0 to %d, got %q", gateway.MaxCacheSize, s)
				}
				g.CacheSize = &n
			}
		case "realm":
			g.Realm, err = argOne(d)
		case "allow_ip":
			g.AllowIP, err = argAppend(d, g.AllowIP)
		case "deny_ip":
			g.DenyIP, err = argAppend(d, g.DenyIP)
		case "allow_ip_file":
			var path string
			if path, err = argOne(d); err == nil {
				g.AllowIPFiles = append(g.AllowIPFiles, path)
			}
		case "deny_ip_file":
			var path string
			if path, err = argOne(d); err == nil {
				g.DenyIPFiles = append(g.DenyIPFiles, path)
			}
		default:
			return d.Errf("unknown subdirective %q", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// repeatable subdirectives accumulate; any other may appear once.
var repeatable = map[string]bool{
	"issuer": true, "jwks": true, "key": true, "audience": true, "token_source": true,
	"scope": true, "scope_any": true, "claim": true, "header": true,
	"allow_ip": true, "deny_ip": true, "allow_ip_file": true, "deny_ip_file": true,
}

func (g *Gateway) parseJWKS(d *caddyfile.Dispenser) error {
	url, err := argOneKeepBlock(d)
	if err != nil {
		return err
	}
	j := JWKSConfig{URL: url}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("duplicate jwks option %q", opt)
		}
		seen[opt] = true
		dur, err := argDuration(d)
		if err != nil {
			return err
		}
		switch opt {
		case "refresh_min":
			j.RefreshMin = dur
		case "refresh_max":
			j.RefreshMax = dur
		case "refetch_interval":
			j.RefetchInterval = dur
		case "max_stale":
			j.MaxStale = dur
		case "timeout":
			j.Timeout = dur
		default:
			return d.Errf("unknown jwks option %q", opt)
		}
	}
	g.JWKS = append(g.JWKS, j)
	return nil
}

func (g *Gateway) parseTokenSource(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return d.Errf("token_source needs a kind (header, query, cookie) and a name")
	}
	src := TokenSourceConfig{Kind: args[0], Name: args[1]}
	switch {
	case src.Kind == "header" && len(args) <= 3:
		if len(args) == 3 {
			src.Scheme = args[2]
		}
	case (src.Kind == "query" || src.Kind == "cookie") && len(args) == 2:
	case src.Kind != "header" && src.Kind != "query" && src.Kind != "cookie":
		return d.Errf("token_source kind %q: want header, query or cookie", src.Kind)
	default:
		return d.ArgErr()
	}
	g.TokenSources = append(g.TokenSources, src)
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Gateway)(nil)
