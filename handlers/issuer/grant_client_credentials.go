package issuer

import (
	"context"
	"time"
)

// clientCredentialsGrant implements RFC 6749 §4.4. The token's subject is
// the client; scope narrows the client's scopes (all of them when absent);
// audience (optional, repeatable) narrows the client's audience.
type clientCredentialsGrant struct{}

func (clientCredentialsGrant) grantType() string { return GrantClientCredentials }
func (clientCredentialsGrant) label() string     { return "client_credentials" }

func (clientCredentialsGrant) request(_ context.Context, _ *Issuer, f form, c *client, _ time.Time) (*mintRequest, *oauthError) {
	scopes, e := narrowScopes(f.get("scope"), c.hasScope, c.scopes)
	if e != nil {
		return nil, e
	}
	aud, e := narrowAudience(f.all("audience"), c.audience)
	if e != nil {
		return nil, e
	}
	return &mintRequest{
		client:   c,
		subject:  c.id,
		scopes:   scopes,
		audience: aud,
		lifetime: c.ttl,
		format:   c.format,
	}, nil
}
