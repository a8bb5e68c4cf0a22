package issuer

import (
	"net/http"
	"time"
)

// clientSecretBasic is RFC 6749 §2.3.1's HTTP Basic authentication with the
// client id and secret (form-urlencoded, then base64).
type clientSecretBasic struct{}

func (clientSecretBasic) name() string { return AuthClientSecretBasic }

func (clientSecretBasic) present(r *http.Request, f form) (*clientCredentials, *oauthError) {
	authz := r.Header.Values("Authorization")
	switch len(authz) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, invalidRequest("more than one Authorization header")
	}
	id, secret, ok := basicCredentials(authz[0])
	if !ok {
		return nil, &oauthError{Status: http.StatusUnauthorized, Code: errInvalidClient, Description: "malformed Basic credentials"}
	}
	if f.get("client_secret") != "" || f.get("client_assertion") != "" {
		return nil, invalidRequest("client authenticated by both HTTP Basic and form parameters")
	}
	if formID := f.get("client_id"); formID != "" && formID != id {
		return nil, invalidRequest("client_id does not match the Basic credentials")
	}
	return &clientCredentials{clientID: id, secret: secret}, nil
}

func (clientSecretBasic) verify(i *Issuer, snap *clientSnapshot, c *client, cr *clientCredentials, now time.Time) (bool, error) {
	return i.verifyClientSecret(snap, c, cr, now)
}
