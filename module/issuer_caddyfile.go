package module

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("authgate_issuer", parseIssuerCaddyfile)
	// RegisterDirectiveOrder only accepts standard directives as the anchor,
	// so the issuer is placed right before basic_auth; the `authgate`
	// gateway goes after basic_auth. The issuer therefore always runs before
	// the gateway, whichever init runs first, and its endpoints are never
	// behind basic_auth (clients authenticate themselves).
	httpcaddyfile.RegisterDirectiveOrder("authgate_issuer", httpcaddyfile.Before, "basic_auth")
}

func parseIssuerCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	ih := new(IssuerHandler)
	if err := ih.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return ih, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	authgate_issuer {
//		issuer <url>
//		path_prefix <prefix>
//		signing_alg <alg>
//		key_rotation <duration>
//		access_token_ttl <duration>
//		audience <aud>...
//		rate_limit <n>/<duration>|off
//		refresh_token_ttl <duration>
//		refresh_family_lifetime <duration>
//		client <client_id> {
//			name <name>
//			secret <value> [expires <RFC3339>]
//			secret_hash <hash> [expires <RFC3339>]
//			auth_method <method>...
//			grant_types <grant>...
//			scopes <scope>...
//			audience <aud>...
//			token_format jwt|opaque
//			access_token_ttl <duration>
//			allow_ip <ip|cidr|range>...
//			deny_ip <ip|cidr|range>...
//			disabled
//			rate_limit <n>/<duration>|off
//			public
//			redirect_uri <uri>
//			post_logout_redirect_uri <uri>
//			skip_consent
//			id_token_signed_response_alg <alg>
//			refresh_token_ttl <duration>
//		}
//	}
func (h *IssuerHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	clientIDs := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if !issRepeatable[name] {
			if seen[name] {
				return d.Errf("duplicate subdirective %q", name)
			}
			seen[name] = true
		}
		switch name {
		case "issuer":
			if err := issOneArg(d, &h.Issuer); err != nil {
				return err
			}
		case "path_prefix":
			if err := issOneArg(d, &h.PathPrefix); err != nil {
				return err
			}
		case "signing_alg":
			if err := issOneArg(d, &h.SigningAlg); err != nil {
				return err
			}
		case "key_rotation":
			if err := issDurationArg(d, &h.KeyRotation); err != nil {
				return err
			}
		case "access_token_ttl":
			if err := issDurationArg(d, &h.AccessTokenTTL); err != nil {
				return err
			}
		case "audience":
			if h.Audience = d.RemainingArgs(); len(h.Audience) == 0 {
				return d.ArgErr()
			}
		case "rate_limit":
			if err := issRateLimitArg(d, &h.RateLimit); err != nil {
				return err
			}
		case "refresh_token_ttl":
			if err := issDurationArg(d, &h.RefreshTokenTTL); err != nil {
				return err
			}
		case "refresh_family_lifetime":
			if err := issDurationArg(d, &h.RefreshFamilyLifetime); err != nil {
				return err
			}
		case "client":
			c, err := unmarshalIssuerClient(d)
			if err != nil {
				return err
			}
			if clientIDs[c.ClientID] {
				return d.Errf("client %q is defined twice", c.ClientID)
			}
			clientIDs[c.ClientID] = true
			h.Clients = append(h.Clients, c)
		default:
			if ok, err := h.unmarshalSignIn(d, name); ok {
				if err != nil {
					return err
				}
				continue
			}
			return d.Errf("unknown subdirective %q", name)
		}
	}
	if h.Issuer == "" {
		return d.Err("authgate_issuer: issuer <url> is required")
	}
	return nil
}

func unmarshalIssuerClient(d *caddyfile.Dispenser) (*IssuerClient, error) {
	c := new(IssuerClient)
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	c.ClientID = d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		switch name {
		case "secret", "secret_hash", "allow_ip", "deny_ip", "redirect_uri", "post_logout_redirect_uri":
		default:
			if seen[name] {
				return nil, d.Errf("client %q: duplicate subdirective %q", c.ClientID, name)
			}
			seen[name] = true
		}
		var err error
		switch name {
		case "name":
			args := d.RemainingArgs()
			if len(args) != 1 {
				return nil, d.ArgErr()
			}
			c.Name = args[0]
		case "secret", "secret_hash":
			s := new(IssuerSecret)
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			if name == "secret" {
				s.Value = d.Val()
			} else {
				s.Hash = d.Val()
			}
			if d.NextArg() {
				if d.Val() != "expires" || !d.NextArg() {
					return nil, d.Errf("client %q: %s takes a value and optionally: expires <RFC3339>", c.ClientID, name)
				}
				if _, err := time.Parse(time.RFC3339, d.Val()); err != nil {
					return nil, d.Errf("client %q: expires must be an RFC 3339 time: %v", c.ClientID, err)
				}
				s.Expires = d.Val()
				if d.NextArg() {
					return nil, d.ArgErr()
				}
			}
			c.Secrets = append(c.Secrets, s)
		case "auth_method":
			c.AuthMethods, err = issManyArgs(d)
		case "grant_types":
			c.GrantTypes, err = issManyArgs(d)
		case "scopes":
			c.Scopes, err = issManyArgs(d)
		case "audience":
			c.Audience, err = issManyArgs(d)
		case "token_format":
			err = issOneArg(d, &c.TokenFormat)
			if err == nil {
				if ferr := issuer.CheckTokenFormat(c.TokenFormat); ferr != nil {
					err = d.Errf("client %q: %v", c.ClientID, ferr)
				}
			}
		case "access_token_ttl":
			err = issDurationArg(d, &c.AccessTokenTTL)
		case "allow_ip":
			var ips []string
			ips, err = issManyArgs(d)
			c.AllowIP = append(c.AllowIP, ips...)
		case "deny_ip":
			var ips []string
			ips, err = issManyArgs(d)
			c.DenyIP = append(c.DenyIP, ips...)
		case "disabled":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			c.Disabled = true
		case "rate_limit":
			err = issRateLimitArg(d, &c.RateLimit)
		case "public", "skip_consent", "redirect_uri", "post_logout_redirect_uri", "id_token_signed_response_alg", "refresh_token_ttl":
			err = unmarshalPeopleClient(d, c, name)
		default:
			return nil, d.Errf("client %q: unknown subdirective %q", c.ClientID, name)
		}
		if err != nil {
			return nil, err
		}
	}
	if c.Public && len(c.Secrets) > 0 {
		return nil, d.Errf("client %q: a public client has no secret", c.ClientID)
	}
	if len(c.Secrets) == 0 && !c.Disabled && !c.Public {
		return nil, d.Errf("client %q: needs at least one secret or secret_hash (or public)", c.ClientID)
	}
	return c, nil
}

func issOneArg(d *caddyfile.Dispenser, dst *string) error {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return d.ArgErr()
	}
	*dst = args[0]
	return nil
}

func issManyArgs(d *caddyfile.Dispenser) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return args, nil
}

func issDurationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	var s string
	if err := issOneArg(d, &s); err != nil {
		return err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("bad duration %q: %v", s, err)
	}
	if v <= 0 {
		return d.Errf("duration %q must be positive", s)
	}
	*dst = caddy.Duration(v)
	return nil
}

// issRateLimitArg reads `rate_limit <n>/<duration>|off`, checked here so
// that an error carries the Caddyfile's file:line.
func issRateLimitArg(d *caddyfile.Dispenser, dst *string) error {
	var s string
	if err := issOneArg(d, &s); err != nil {
		return err
	}
	if _, err := issuer.ParseRateLimit(s, caddy.ParseDuration); err != nil {
		return d.Errf("%v", err)
	}
	*dst = s
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*IssuerHandler)(nil)
