package module

import (
	"slices"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

// unmarshalClientStrongAuth reads a client's JWT and mTLS subdirectives:
//
//	key <file> [<kid>]
//	jwks_uri <url>
//	allowed_kids <kid>...
//	validate_jti on|off
//	tls_client_auth subject_dn|san_dns|san_uri|san_ip|san_email <value>
//	certificate_bound_tokens
//	signing_alg <alg>
func unmarshalClientStrongAuth(d *caddyfile.Dispenser, c *IssuerClient, name string) error {
	args := d.RemainingArgs()
	switch name {
	case "key":
		if len(args) < 1 || len(args) > 2 {
			return d.ArgErr()
		}
		k := IssuerClientKey{File: args[0]}
		if len(args) == 2 {
			k.KID = args[1]
		}
		c.Keys = append(c.Keys, k)
	case "jwks_uri":
		if len(args) != 1 {
			return d.ArgErr()
		}
		c.JWKSURI = args[0]
	case "allowed_kids":
		if len(args) == 0 {
			return d.ArgErr()
		}
		c.AllowedKids = args
	case "validate_jti":
		if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
			return d.Errf("client %q: validate_jti takes on or off", c.ClientID)
		}
		on := args[0] == "on"
		c.ValidateJTI = &on
	case "tls_client_auth":
		if len(args) != 2 {
			return d.Errf("client %q: tls_client_auth takes an attribute (subject_dn, san_dns, san_uri, san_ip, san_email) and a value", c.ClientID)
		}
		if err := issuer.CheckTLSClientAuth(args[0], args[1]); err != nil {
			return d.Errf("client %q: %v", c.ClientID, err)
		}
		c.TLSClientAuth = &IssuerTLSClientAuth{Attribute: args[0], Value: args[1]}
	case "signing_alg":
		if len(args) != 1 {
			return d.ArgErr()
		}
		if err := issuer.CheckSigningAlg(args[0]); err != nil {
			return d.Errf("client %q: %v", c.ClientID, err)
		}
		c.SigningAlg = args[0]
	case "certificate_bound_tokens":
		if len(args) != 0 {
			return d.ArgErr()
		}
		c.CertificateBoundTokens = true
	}
	return nil
}

// usesSharedSecret reports whether a client with these auth methods needs
// a secret (the default methods are the client_secret ones).
func usesSharedSecret(methods []string) bool {
	return len(methods) == 0 || slices.Contains(methods, issuer.AuthClientSecretBasic) ||
		slices.Contains(methods, issuer.AuthClientSecretPost) || slices.Contains(methods, issuer.AuthClientSecretJWT)
}
