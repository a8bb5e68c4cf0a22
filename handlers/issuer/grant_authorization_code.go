package issuer

import (
	"context"
	"net/http"
	"time"
)

// authorizationCodeGrant implements RFC 6749 §4.1.3 with PKCE (RFC 7636).
type authorizationCodeGrant struct{}

func (authorizationCodeGrant) grantType() string { return GrantAuthorizationCode }
func (authorizationCodeGrant) label() string     { return "authorization_code" }

func (authorizationCodeGrant) request(context.Context, *Issuer, form, *client, time.Time) (*mintRequest, *oauthError) {
	return nil, newError(http.StatusBadRequest, errUnsupportedGrantType, "not yet")
}
