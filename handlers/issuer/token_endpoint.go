package issuer

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request, ip netip.Addr) {
	f, c, ok := i.clientRequest(w, r, ip)
	if !ok {
		return
	}
	var e *oauthError
	switch f.get("grant_type") {
	case "":
		e = invalidRequest("missing grant_type")
	case GrantClientCredentials:
		if !c.grantCC {
			e = newError(http.StatusBadRequest, errUnauthorizedClient, "client may not use the client_credentials grant")
			break
		}
		e = i.grantClientCredentials(w, r, f, c)
	case GrantTokenExchange:
		if !c.grantTE {
			e = newError(http.StatusBadRequest, errUnauthorizedClient, "client may not use the token-exchange grant")
			break
		}
		e = i.grantTokenExchange(w, r, f, c)
	default:
		e = newError(http.StatusBadRequest, errUnsupportedGrantType, "unsupported grant_type")
	}
	if e != nil {
		writeError(w, e, i.realm)
	}
}

// clientRequest parses the form and authenticates the calling client,
// answering the RFC 6749 error itself when either fails.
func (i *Issuer) clientRequest(w http.ResponseWriter, r *http.Request, ip netip.Addr) (form, *client, bool) {
	f, e := parseForm(w, r)
	if e == nil {
		var c *client
		if c, e = i.authenticate(r, f, ip); e == nil {
			return f, c, true
		}
	}
	writeError(w, e, i.realm)
	return form{}, nil, false
}

// tokenRequest is clientRequest for the endpoints that act on a presented
// token (introspection, revocation): the token parameter is required.
func (i *Issuer) tokenRequest(w http.ResponseWriter, r *http.Request, ip netip.Addr) (*client, string, bool) {
	f, c, ok := i.clientRequest(w, r, ip)
	if !ok {
		return nil, "", false
	}
	tok := f.get("token")
	if tok == "" {
		writeError(w, invalidRequest("missing token"), i.realm)
		return nil, "", false
	}
	return c, tok, true
}

// authenticate identifies and authenticates the client: HTTP Basic
// (client_secret_basic) or client_id/client_secret in the form
// (client_secret_post), never both.
func (i *Issuer) authenticate(r *http.Request, f form, ip netip.Addr) (*client, *oauthError) {
	ip = ip.Unmap()
	authz := r.Header.Values("Authorization")
	formID, formSecret := f.get("client_id"), f.get("client_secret")
	var id, secret string
	basic := false
	switch {
	case len(authz) > 1:
		return nil, invalidRequest("more than one Authorization header")
	case len(authz) == 1:
		var ok bool
		if id, secret, ok = basicCredentials(authz[0]); !ok {
			return nil, &oauthError{Status: http.StatusUnauthorized, Code: errInvalidClient, Description: "malformed Basic credentials"}
		}
		basic = true
		if formSecret != "" {
			return nil, invalidRequest("client authenticated by both HTTP Basic and form parameters")
		}
		if formID != "" && formID != id {
			return nil, invalidRequest("client_id does not match the Basic credentials")
		}
	case formSecret != "":
		if formID == "" {
			return nil, newError(http.StatusUnauthorized, errInvalidClient, "client_secret without client_id")
		}
		id, secret = formID, formSecret
	default:
		return nil, &oauthError{Status: http.StatusUnauthorized, Code: errInvalidClient, Description: "client authentication required"}
	}
	fail := &oauthError{Status: http.StatusUnauthorized, Code: errInvalidClient, Description: "client authentication failed"}
	c := i.clients[id]
	reason := ""
	tooEarly := false
	switch {
	case c == nil:
		reason = "unknown client"
	case c.disabled:
		reason = "client disabled"
	case basic && !c.authBasic, !basic && !c.authPost:
		reason = "auth method not allowed for client"
	case c.filter != nil && earlyData(r):
		// Judged after the secret: only a caller holding it learns that
		// it must retry after the handshake.
		reason, tooEarly = "client address unverified (TLS early data)", true
	case !c.ipAllowed(ip):
		reason = "client address not allowed"
	}
	// Every refusal costs what a wrong secret costs: a refused client's
	// secret is still checked against its own hashes (result ignored), an
	// unknown client's against a copy of some slow-hash client's hashes
	// (dummySet), so time does not tell which ids exist or why they were
	// refused.
	var hashes []secretHash
	if c != nil && len(c.secrets) > 0 {
		hashes = c.secrets
	} else {
		hashes = i.dummy.forID(id)
	}
	ok, err := i.verifyHashes(id, hashes, secret, i.now())
	if err != nil {
		i.log(slog.LevelWarn, "client authentication refused: slow-hash verifications at capacity",
			slog.String("client_id", truncate(id, 64)), slog.String("remote_ip", ip.String()))
		return nil, busyError()
	}
	if reason == "" && !ok {
		reason = "wrong or expired secret"
	}
	if reason != "" {
		i.log(slog.LevelInfo, "client authentication failed",
			slog.String("client_id", truncate(id, 64)), slog.String("reason", reason), slog.String("remote_ip", ip.String()))
		if tooEarly && ok {
			return nil, tooEarlyError()
		}
		return nil, fail
	}
	return c, nil
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

// grantRequest is what a grant decided to issue.
type grantRequest struct {
	client    *client
	subject   string
	scopes    []string
	audience  []string
	expiresAt int64 // unix seconds
	exchange  bool
}

// issue mints the token and writes the RFC 6749 §5.1 response.
func (i *Issuer) issue(w http.ResponseWriter, r *http.Request, g *grantRequest, now time.Time) *oauthError {
	// Every issuance counts against the client's rate limit (opaque tokens
	// grow the store; JWTs cost a signature).
	if ok, retry := g.client.issuance.take(now); !ok {
		i.log(slog.LevelInfo, "token issuance rate limited",
			slog.String("client_id", g.client.id), slog.String("rate_limit", g.client.issuance.limit.String()))
		return rateLimited(retry)
	}
	nowUnix := now.Unix()
	jti, err := randomJTI()
	if err != nil {
		return serverError()
	}
	var tok string
	if g.client.opaque {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return serverError()
		}
		tok = base64.RawURLEncoding.EncodeToString(raw)
		rec := store.TokenRecord{
			Hash: i.opaqueHash(tok), JTI: jti, ClientID: g.client.id, Subject: g.subject,
			Scopes: g.scopes, Audience: g.audience,
			IssuedAt: time.Unix(nowUnix, 0), ExpiresAt: time.Unix(g.expiresAt, 0),
		}
		if err := i.store.PutToken(r.Context(), rec); err != nil {
			i.log(slog.LevelError, "storing opaque token failed", slog.String("error", err.Error()))
			return serverError()
		}
	} else {
		claims := appendAccessClaims(make([]byte, 0, 256), i.iss, g, nowUnix, jti)
		signer := i.keys.current(r.Context()).signer
		if tok, err = signer.Sign(token.TypAccessToken, claims); err != nil {
			i.log(slog.LevelError, "signing token failed", slog.String("error", err.Error()))
			return serverError()
		}
	}
	buf := make([]byte, 0, len(tok)+128)
	buf = append(buf, `{"access_token":`...)
	buf = appendJSONString(buf, tok)
	buf = append(buf, `,"token_type":"Bearer","expires_in":`...)
	buf = appendInt(buf, g.expiresAt-nowUnix)
	if len(g.scopes) > 0 {
		buf = append(buf, `,"scope":`...)
		buf = appendSpaceJoined(buf, g.scopes)
	}
	if g.exchange {
		buf = append(buf, `,"issued_token_type":"`+TokenTypeAccessToken+`"`...)
	}
	buf = append(buf, '}', '\n')
	h := w.Header()
	setNoStore(h)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
	return nil
}

func serverError() *oauthError {
	return newError(http.StatusInternalServerError, errServerError, "the token could not be issued")
}

// appendAccessClaims encodes RFC 9068 claims: iss, sub, aud, exp, iat, jti,
// client_id, scope.
func appendAccessClaims(b []byte, iss string, g *grantRequest, iat int64, jti string) []byte {
	b = append(b, `{"iss":`...)
	b = appendJSONString(b, iss)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, g.subject)
	switch len(g.audience) {
	case 0:
	case 1:
		b = append(b, `,"aud":`...)
		b = appendJSONString(b, g.audience[0])
	default:
		b = append(b, `,"aud":`...)
		b = appendJSONStrings(b, g.audience)
	}
	b = append(b, `,"exp":`...)
	b = appendInt(b, g.expiresAt)
	b = append(b, `,"iat":`...)
	b = appendInt(b, iat)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, jti)
	b = append(b, `,"client_id":`...)
	b = appendJSONString(b, g.client.id)
	if len(g.scopes) > 0 {
		b = append(b, `,"scope":`...)
		b = appendSpaceJoined(b, g.scopes)
	}
	return append(b, '}')
}

// randomJTI returns 128 random bits, base64url.
func randomJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hasDot(s string) bool { return strings.IndexByte(s, '.') >= 0 }
