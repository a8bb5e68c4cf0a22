package issuer

import (
	"context"
	"net/http"
	"time"
)

// implicitGrant is the legacy implicit grant (RFC 6749 §4.2): the
// authorization endpoint answers response_type=token with an access token
// in the redirect's fragment (see mintImplicit). It is registered so that
// clients may name it and the metadata lists it; the token endpoint never
// serves it.
type implicitGrant struct{}

func (implicitGrant) grantType() string { return GrantImplicit }
func (implicitGrant) label() string     { return "implicit" }

func (implicitGrant) request(context.Context, *Issuer, form, *client, time.Time) (*mintRequest, *oauthError) {
	return nil, newError(http.StatusBadRequest, errUnsupportedGrantType, "the implicit grant is served by the authorization endpoint")
}
