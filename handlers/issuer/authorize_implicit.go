package issuer

import (
	"context"
	"net/url"
	"time"
)

// implicitResponse mints the implicit grant's access token (no refresh
// token, RFC 6749 §4.2.2) and returns the fragment's parameters.
func (i *Issuer) implicitResponse(ctx context.Context, req *authzRequest, sess *ssoSession, user *User, now time.Time) (url.Values, error) {
	return nil, errNotImplicit
}
