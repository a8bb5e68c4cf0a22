package issuer

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authgate/caddy-authgate/token"
)

// PeopleConfig is what a client needs for people to sign in through it:
// the authorization endpoint's redirect targets and the token side's
// refresh and ID-token settings.
type PeopleConfig struct {
	// Public marks a client that cannot keep a secret (a native or
	// browser app): it authenticates with the method none (client_id
	// only), must use PKCE and never gets client_credentials or token
	// exchange.
	Public bool
	// RedirectURIs are the registered redirect_uri values (absolute, no
	// fragment), compared exactly at the authorization endpoint.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may return.
	PostLogoutRedirectURIs []string
	// SkipConsent skips the consent page (first-party apps).
	SkipConsent bool
	// IDTokenSignedResponseAlg is the alg of the client's ID tokens: RS256
	// (default) or the issuer's signing_alg when that is asymmetric.
	IDTokenSignedResponseAlg string
	// RefreshTokenTTL overrides the issuer's refresh-token lifetime.
	RefreshTokenTTL time.Duration
}

// people is a provisioned client's PeopleConfig.
type people struct {
	public                 bool
	redirectURIs           []string
	postLogoutRedirectURIs []string
	skipConsent            bool
	idTokenAlg             string        // "" until the issuer resolves it (RS256 by default)
	refreshTTL             time.Duration // 0: the issuer's refresh_token_ttl
}

// MaxRedirectURIBytes bounds one registered redirect URI.
const MaxRedirectURIBytes = 2048

// CheckRedirectURI accepts an absolute URI without fragment or user info:
// http(s) with a host, or a native app's private-use scheme (RFC 8252
// §7.1). Schemes that run code or read files in a browser are refused. The
// Caddyfile parser calls it too, for an error with file:line.
func CheckRedirectURI(s string) error {
	if s == "" || len(s) > MaxRedirectURIBytes || !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n\x00") {
		return fmt.Errorf("redirect URI %q must be a non-empty URI of at most %d bytes without white space", truncate(s, 64), MaxRedirectURIBytes)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("redirect URI %q must be absolute", truncate(s, 64))
	}
	if strings.Contains(s, "#") {
		return fmt.Errorf("redirect URI %q must not have a fragment", truncate(s, 64))
	}
	if u.User != nil {
		return fmt.Errorf("redirect URI %q must not carry user info", truncate(s, 64))
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", truncate(s, 64))
		}
	case "javascript", "data", "file", "vbscript", "blob", "about":
		return fmt.Errorf("redirect URI %q: scheme %s is not allowed", truncate(s, 64), u.Scheme)
	}
	return nil
}

// CheckIDTokenAlg accepts the algorithms an ID token may be signed with
// (asymmetric: a relying party verifies it with the published keys).
func CheckIDTokenAlg(alg string) error {
	switch alg {
	case token.ES256, token.ES384, token.RS256, token.RS384, token.RS512, token.PS256, token.EdDSA:
		return nil
	}
	return fmt.Errorf("id_token_signed_response_alg %q is not an asymmetric signing algorithm", alg)
}

func (p *people) build(cc *ClientConfig) error {
	pc := &cc.PeopleConfig
	p.public, p.skipConsent = pc.Public, pc.SkipConsent
	for _, u := range pc.RedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			return err
		}
		if !slices.Contains(p.redirectURIs, u) {
			p.redirectURIs = append(p.redirectURIs, u)
		}
	}
	for _, u := range pc.PostLogoutRedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			return fmt.Errorf("post_logout_redirect_uri: %w", err)
		}
		if !slices.Contains(p.postLogoutRedirectURIs, u) {
			p.postLogoutRedirectURIs = append(p.postLogoutRedirectURIs, u)
		}
	}
	if pc.IDTokenSignedResponseAlg != "" {
		if err := CheckIDTokenAlg(pc.IDTokenSignedResponseAlg); err != nil {
			return err
		}
		p.idTokenAlg = pc.IDTokenSignedResponseAlg
	}
	if pc.RefreshTokenTTL != 0 {
		if !validTTL(pc.RefreshTokenTTL) {
			return errors.New("refresh_token_ttl must be between 1s and 2147483647s")
		}
		p.refreshTTL = pc.RefreshTokenTTL.Truncate(time.Second)
	}
	if pc.Public && len(cc.Secrets) > 0 {
		return errors.New("a public client has no secret")
	}
	return nil
}

// check enforces the rules between a client's kind, methods and grants.
func (p *people) check(methods, grants []string) error {
	if p.public {
		if len(methods) != 1 || methods[0] != AuthNone {
			return errors.New("a public client authenticates with auth_method none only")
		}
		for _, g := range grants {
			if g == GrantClientCredentials || g == GrantTokenExchange {
				return fmt.Errorf("a public client may not use the %s grant", g)
			}
		}
	} else if slices.Contains(methods, AuthNone) {
		return errors.New("auth_method none is for public clients only")
	}
	if (slices.Contains(grants, GrantAuthorizationCode) || slices.Contains(grants, GrantImplicit)) && len(p.redirectURIs) == 0 {
		return errors.New("the authorization_code and implicit grants need a redirect_uri")
	}
	if slices.Contains(grants, GrantRefreshToken) && !slices.Contains(grants, GrantAuthorizationCode) {
		return errors.New("the refresh_token grant needs the authorization_code grant (refresh tokens are only issued with codes)")
	}
	return nil
}

// allowsRedirect reports whether uri is one of the client's registered
// redirect URIs, exactly (the authorization endpoint adds RFC 8252's
// loopback port rule).
func (c *client) allowsRedirect(uri string) bool { return slices.Contains(c.redirectURIs, uri) }
