package module

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

// unmarshalPeopleClient reads a client's sign-in subdirectives:
//
//	public
//	redirect_uri <uri>                  (repeatable)
//	post_logout_redirect_uri <uri>      (repeatable)
//	skip_consent
//	id_token_signed_response_alg <alg>
//	refresh_token_ttl <duration>
func unmarshalPeopleClient(d *caddyfile.Dispenser, c *IssuerClient, name string) error {
	switch name {
	case "public", "skip_consent":
		if d.NextArg() {
			return d.ArgErr()
		}
		if name == "public" {
			c.Public = true
		} else {
			c.SkipConsent = true
		}
	case "redirect_uri", "post_logout_redirect_uri":
		var uri string
		if err := issOneArg(d, &uri); err != nil {
			return err
		}
		if err := issuer.CheckRedirectURI(uri); err != nil {
			return d.Errf("client %q: %s: %v", c.ClientID, name, err)
		}
		if name == "redirect_uri" {
			c.RedirectURIs = append(c.RedirectURIs, uri)
		} else {
			c.PostLogoutRedirectURIs = append(c.PostLogoutRedirectURIs, uri)
		}
	case "id_token_signed_response_alg":
		if err := issOneArg(d, &c.IDTokenSignedResponseAlg); err != nil {
			return err
		}
		if err := issuer.CheckIDTokenAlg(c.IDTokenSignedResponseAlg); err != nil {
			return d.Errf("client %q: %v", c.ClientID, err)
		}
	case "refresh_token_ttl":
		return issDurationArg(d, &c.RefreshTokenTTL)
	}
	return nil
}
