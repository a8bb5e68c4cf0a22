package issuer

import (
	"net/http"
)

// grantClientCredentials implements RFC 6749 §4.4. The token's subject is the
// client; scope narrows the client's scopes (all of them when absent);
// audience (optional, repeatable) narrows the client's audience.
func (i *Issuer) grantClientCredentials(w http.ResponseWriter, r *http.Request, f form, c *client) *oauthError {
	scopes, e := narrowScopes(f.get("scope"), c.hasScope, c.scopes)
	if e != nil {
		return e
	}
	aud, e := narrowAudience(f.all("audience"), c.audience)
	if e != nil {
		return e
	}
	now := i.now()
	g := &grantRequest{
		client:    c,
		subject:   c.id,
		scopes:    scopes,
		audience:  aud,
		expiresAt: now.Unix() + int64(c.ttl.Seconds()),
	}
	return i.issue(w, r, g, now)
}
