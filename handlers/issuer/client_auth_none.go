package issuer

import (
	"net/http"
	"time"
)

// clientAuthNone is a public client's method (RFC 7591 "none"): the request
// names its client_id in the body and proves nothing. Only public clients
// may use it (client_people.go), and their grants demand another proof
// (PKCE for codes, possession of the refresh token). It comes last in the
// registry: a request with any secret is matched by a secret method first.
type clientAuthNone struct{}

func (clientAuthNone) name() string { return AuthNone }

func (clientAuthNone) present(r *http.Request, f form) (*clientCredentials, *oauthError) {
	if r.Header.Get("Authorization") != "" {
		return nil, nil
	}
	id := f.get("client_id")
	if id == "" {
		return nil, nil
	}
	return &clientCredentials{clientID: id}, nil
}

// verify succeeds for a public client; there is no secret to check, so
// an unknown id costs what a known one costs (nothing).
func (clientAuthNone) verify(_ *Issuer, _ *clientSnapshot, c *client, _ *clientCredentials, _ time.Time) (bool, error) {
	return c != nil && c.public, nil
}
