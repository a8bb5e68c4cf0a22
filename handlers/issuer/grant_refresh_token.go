package issuer

import (
	"context"
	"net/http"
	"time"
)

// refreshTokenGrant implements RFC 6749 §6 with single-use, rotated refresh
// tokens.
type refreshTokenGrant struct{}

func (refreshTokenGrant) grantType() string { return GrantRefreshToken }
func (refreshTokenGrant) label() string     { return "refresh_token" }

func (refreshTokenGrant) request(context.Context, *Issuer, form, *client, time.Time) (*mintRequest, *oauthError) {
	return nil, newError(http.StatusBadRequest, errUnsupportedGrantType, "not yet")
}
