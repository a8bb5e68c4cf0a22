package module

import (
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/authgate/caddy-authgate/handlers/gateway"
)

// parseLogin reads
//
//	login <issuer> {
//		client_id <id>
//		client_secret <secret>
//		scopes <scope>...
//		auth_param <name> <value>
//		callback_path <path>
//		logout_path <path>
//		post_logout_redirect <url>
//		session_ttl <duration>
//		idle_timeout <duration>
//		cookie_name <name>
//		session store|cookie
//	}
func (g *Gateway) parseLogin(d *caddyfile.Dispenser) error {
	iss, err := argOneKeepBlock(d)
	if err != nil {
		return err
	}
	if err := checkIssuerURL(iss); err != nil {
		return d.Errf("login: %v", err)
	}
	line := d.Token()
	lc := &LoginConfig{Issuer: iss}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] && opt != "auth_param" {
			return d.Errf("duplicate login option %q", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "client_id":
			lc.ClientID, err = argOne(d)
		case "client_secret":
			lc.ClientSecret, err = argOne(d)
		case "scopes":
			if lc.Scopes, err = argAppend(d, nil); err == nil {
				for _, s := range lc.Scopes {
					if err := checkScope(s); err != nil {
						return d.Errf("login scopes: %v", err)
					}
				}
				if !contains(lc.Scopes, "openid") {
					return d.Errf("login scopes must include openid")
				}
			}
		case "auth_param":
			args := d.RemainingArgs()
			if len(args) != 2 || args[0] == "" {
				return d.Errf("auth_param needs a name and a value")
			}
			switch args[0] {
			case "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method":
				return d.Errf("auth_param %s is set by the gateway", args[0])
			}
			if lc.AuthParams == nil {
				lc.AuthParams = map[string]string{}
			}
			lc.AuthParams[args[0]] = args[1]
		case "callback_path", "logout_path":
			var p string
			if p, err = argOne(d); err == nil {
				if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?# ") {
					return d.Errf("%s must be an absolute path without query, got %q", opt, p)
				}
				if opt == "callback_path" {
					lc.CallbackPath = p
				} else {
					lc.LogoutPath = p
				}
			}
		case "post_logout_redirect":
			if lc.PostLogoutRedirect, err = argOne(d); err == nil {
				if err := checkIssuerURL(lc.PostLogoutRedirect); err != nil {
					return d.Errf("post_logout_redirect: %v", err)
				}
			}
		case "session_ttl", "idle_timeout":
			var dur caddy.Duration
			if dur, err = argDuration(d); err == nil {
				if opt == "session_ttl" {
					if time.Duration(dur) < time.Minute {
						return d.Errf("session_ttl must be at least 1m")
					}
					lc.SessionTTL = dur
				} else {
					if dur < 0 {
						return d.Errf("idle_timeout must not be negative")
					}
					lc.IdleTimeout = &dur
				}
			}
		case "cookie_name":
			if lc.CookieName, err = argOne(d); err == nil && !gateway.ValidCookieName(lc.CookieName) {
				return d.Errf("cookie_name %q is not a valid cookie name", lc.CookieName)
			}
		case "session":
			if lc.Session, err = argOne(d); err == nil && lc.Session != "store" && lc.Session != "cookie" {
				return d.Errf("session must be store or cookie, got %q", lc.Session)
			}
		default:
			return d.Errf("unknown login option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	if lc.ClientID == "" {
		return errAt(line, errString("login needs client_id"))
	}
	if lc.CallbackPath != "" && lc.CallbackPath == lc.LogoutPath {
		return errAt(line, errString("login: callback_path and logout_path must differ"))
	}
	g.Login = lc
	return nil
}

// parseIdentityHeader reads `identity_header <Header-Name> [<audience>]`.
func (g *Gateway) parseIdentityHeader(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return d.ArgErr()
	}
	if err := checkHeaderName(args[0]); err != nil {
		return d.Err(err.Error())
	}
	for _, m := range g.Headers {
		if http.CanonicalHeaderKey(m.Name) == http.CanonicalHeaderKey(args[0]) {
			return d.Errf("identity_header %s is also mapped from a claim", args[0])
		}
	}
	g.IdentityHeader = args[0]
	if len(args) == 2 {
		g.IdentityAudience = args[1]
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
