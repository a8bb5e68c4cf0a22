package issuer

import (
	"net/http"
	"time"
)

// clientSecretPost is RFC 6749 §2.3.1's client_id and client_secret in the
// request body. It comes after clientSecretBasic in the registry, which
// refuses a request that uses both.
type clientSecretPost struct{}

func (clientSecretPost) name() string { return AuthClientSecretPost }

func (clientSecretPost) present(_ *http.Request, f form) (*clientCredentials, *oauthError) {
	secret := f.get("client_secret")
	if secret == "" {
		return nil, nil
	}
	if f.get("client_assertion") != "" {
		return nil, invalidRequest("client authenticated by both a secret and an assertion")
	}
	id := f.get("client_id")
	if id == "" {
		return nil, newError(http.StatusUnauthorized, errInvalidClient, "client_secret without client_id")
	}
	return &clientCredentials{clientID: id, secret: secret}, nil
}

func (clientSecretPost) verify(i *Issuer, snap *clientSnapshot, c *client, cr *clientCredentials, now time.Time) (bool, error) {
	return i.verifyClientSecret(snap, c, cr, now)
}
