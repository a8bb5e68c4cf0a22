package issuer

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// implicitResponse mints the implicit grant's access token (no refresh
// token, RFC 6749 §4.2.2) and returns the fragment's parameters; an
// *oauthError (rate limit, user disabled) goes back to the client as is.
func (i *Issuer) implicitResponse(ctx context.Context, req *authzRequest, sess *ssoSession, user *User, now time.Time) (url.Values, *oauthError) {
	resp, oe := i.mintImplicit(ctx, req.client, user, req.scopes, sess.AuthTime, now)
	if oe != nil {
		return nil, oe
	}
	p := url.Values{
		"access_token": {resp.AccessToken},
		"token_type":   {resp.TokenType},
		"expires_in":   {strconv.FormatInt(resp.ExpiresIn, 10)},
	}
	if resp.Scope != "" {
		p.Set("scope", resp.Scope)
	}
	return p, nil
}
