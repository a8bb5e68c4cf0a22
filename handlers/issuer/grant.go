package issuer

import (
	"context"
	"net/http"
	"time"
)

// grant is one grant type of the token endpoint, one file each
// (grant_<name>.go), listed in grantRegistry. It decides what to issue for
// an authenticated client that may use it and never writes HTTP: the token
// endpoint mints what it returns (mint.go) and writes the answer.
type grant interface {
	// grantType is the grant_type value (RFC 6749 §4, RFC 8693 §2.1).
	grantType() string
	// label names the grant in error descriptions.
	label() string
	// request validates the grant's parameters and returns what to mint.
	// now is the request's time, also the iat of what is minted.
	request(ctx context.Context, i *Issuer, f form, c *client, now time.Time) (*mintRequest, *oauthError)
}

// grantRegistry lists every grant the token endpoint knows, in the order
// grant_types_supported lists them. A new grant is one file adding itself
// here.
var grantRegistry = []grant{
	clientCredentialsGrant{},
	tokenExchangeGrant{},
	authorizationCodeGrant{},
	refreshTokenGrant{},
	implicitGrant{},
}

// grantByType returns the registered grant of that grant_type, or nil.
func grantByType(t string) grant {
	for _, g := range grantRegistry {
		if g.grantType() == t {
			return g
		}
	}
	return nil
}

// grantRequest runs the grant named by the form for c and returns what to
// mint.
func (i *Issuer) grantRequest(ctx context.Context, f form, c *client, now time.Time) (*mintRequest, *oauthError) {
	t := f.get("grant_type")
	if t == "" {
		return nil, invalidRequest("missing grant_type")
	}
	g := grantByType(t)
	if g == nil {
		return nil, newError(http.StatusBadRequest, errUnsupportedGrantType, "unsupported grant_type")
	}
	if !c.allowsGrant(t) {
		return nil, newError(http.StatusBadRequest, errUnauthorizedClient, "client may not use the "+g.label()+" grant")
	}
	return g.request(ctx, i, f, c, now)
}

// supportedGrantTypes is grant_types_supported: the registered grants that
// some client may use, and always the default grant.
func supportedGrantTypes(clients map[string]*client) []string {
	var out []string
	for _, g := range grantRegistry {
		t := g.grantType()
		if t == DefaultGrantType {
			out = append(out, t)
			continue
		}
		for _, c := range clients {
			if c.allowsGrant(t) {
				out = append(out, t)
				break
			}
		}
	}
	return out
}
