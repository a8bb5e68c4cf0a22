package issuer

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// clientAuthMethod is one token-endpoint client authentication method (RFC
// 7591 token_endpoint_auth_method), one file each (client_auth_<name>.go),
// listed in clientAuthRegistry. A client may use the methods its
// ClientConfig.AuthMethods names.
type clientAuthMethod interface {
	// name is the RFC 7591 method name.
	name() string
	// present returns the credentials r carries for this method; nil when
	// r does not use it, an error when it uses it wrongly.
	present(r *http.Request, f form) (*clientCredentials, *oauthError)
	// verify checks the credentials' proof for c. c is nil for an unknown
	// client: verify then does the work a wrong proof costs, so time does
	// not tell which clients exist. An error means the check could not be
	// made (busy), not that the proof is wrong.
	verify(i *Issuer, snap *clientSnapshot, c *client, cr *clientCredentials, now time.Time) (bool, error)
}

// clientCredentials is what a request presents to authenticate a client.
type clientCredentials struct {
	clientID string
	// secret is the client_secret (client_secret_basic, client_secret_post).
	secret string
}

// clientAuthRegistry lists every client authentication method, in the order
// requests are matched against them and the metadata lists them. A new
// method (private_key_jwt, tls_client_auth, none) is one file adding itself
// here.
var clientAuthRegistry = []clientAuthMethod{
	clientSecretBasic{},
	clientSecretPost{},
	clientAuthNone{},
}

// clientAuthMethodByName returns the registered method of that name, or nil.
func clientAuthMethodByName(name string) clientAuthMethod {
	for _, m := range clientAuthRegistry {
		if m.name() == name {
			return m
		}
	}
	return nil
}

// supportedAuthMethods is token_endpoint_auth_methods_supported (and the
// introspection and revocation endpoints' lists).
func supportedAuthMethods() []string {
	out := make([]string, 0, len(clientAuthRegistry))
	for _, m := range clientAuthRegistry {
		out = append(out, m.name())
	}
	return out
}

// authenticate identifies and authenticates the client by the first
// registered method the request uses (a request using two is refused by the
// methods themselves).
func (i *Issuer) authenticate(r *http.Request, f form, ip netip.Addr) (*client, *oauthError) {
	ip = ip.Unmap()
	var method clientAuthMethod
	var cr *clientCredentials
	for _, m := range clientAuthRegistry {
		var e *oauthError
		if cr, e = m.present(r, f); e != nil {
			return nil, e
		}
		if cr != nil {
			method = m
			break
		}
	}
	if cr == nil {
		return nil, &oauthError{Status: http.StatusUnauthorized, Code: errInvalidClient, Description: "client authentication required"}
	}
	id := cr.clientID
	snap := i.clients.load()
	c := snap.byID[id]
	reason := ""
	tooEarly := false
	switch {
	case c == nil:
		reason = "unknown client"
	case c.disabled:
		reason = "client disabled"
	case !c.allowsAuth(method.name()):
		reason = "auth method not allowed for client"
	case c.filter != nil && earlyData(r):
		// Judged after the proof: only a caller holding it learns that
		// it must retry after the handshake.
		reason, tooEarly = "client address unverified (TLS early data)", true
	case !c.ipAllowed(ip):
		reason = "client address not allowed"
	}
	// Every refusal costs what a wrong proof costs: a refused client's proof
	// is still checked (result ignored), an unknown client's against a
	// dummy, so time does not tell which ids exist or why they were refused.
	ok, err := method.verify(i, snap, c, cr, i.now())
	if err != nil {
		i.logger.LogAttrs(r.Context(), slog.LevelWarn, "client authentication refused: slow-hash verifications at capacity",
			slog.String("client_id", truncate(id, 64)), slog.String("remote_ip", ip.String()))
		return nil, busyError()
	}
	if reason == "" && !ok {
		reason = "wrong or expired secret"
	}
	if reason != "" {
		i.logger.LogAttrs(r.Context(), slog.LevelInfo, "client authentication failed",
			slog.String("client_id", truncate(id, 64)), slog.String("reason", reason), slog.String("remote_ip", ip.String()))
		if tooEarly && ok {
			return nil, tooEarlyError()
		}
		return nil, &oauthError{Status: http.StatusUnauthorized, Code: errInvalidClient, Description: "client authentication failed"}
	}
	return c, nil
}

// verifyClientSecret is the proof check of the client_secret_* methods: the
// secret against the client's hashes, or, for an unknown client or one
// without secrets, against the copy of some slow-hash client's hashes that
// the snapshot's dummySet picks for this id.
func (i *Issuer) verifyClientSecret(snap *clientSnapshot, c *client, cr *clientCredentials, now time.Time) (bool, error) {
	var hashes []secretHash
	if c != nil && len(c.secrets) > 0 {
		hashes = c.secrets
	} else {
		hashes = snap.dummy.forID(cr.clientID)
	}
	return i.verifyHashes(cr.clientID, hashes, cr.secret, now)
}

// earlyData reports whether r arrived in TLS 0-RTT (HTTP/3 early data),
// before the handshake proved the source address: an IP filter must not be
// judged on it. It is the test of module/clientip.go's earlyDataError (the
// gateway's IP lists), which Caddy's client_ip matcher uses too.
func earlyData(r *http.Request) bool {
	return r.TLS != nil && !r.TLS.HandshakeComplete
}

// tooEarlyError asks the client to retry once the handshake completed (RFC
// 8470 §5.2).
func tooEarlyError() *oauthError {
	return newError(http.StatusTooEarly, errInvalidRequest, "the client address cannot be verified in TLS early data; retry")
}

// busyError answers an attempt refused by the HashLimiter: 503 (capacity of
// the whole process, not this client's rate), retry in a second.
func busyError() *oauthError {
	return &oauthError{Status: http.StatusServiceUnavailable, Code: errTemporarilyUnavailable,
		Description: "the server is busy, retry later", RetryAfter: 1}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
