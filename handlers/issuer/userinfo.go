package issuer

import (
	"errors"
	"net/http"
	"slices"
)

// serveUserinfo is OpenID Connect Core §5.3's UserInfo endpoint (GET or
// POST) for a Bearer access token in the Authorization header (RFC 6750
// §2.1) that a user got with scope openid; a sender-constrained token only
// with its certificate or DPoP proof (userinfo_binding.go). It answers the user's `sub` and
// the claims the token's scopes release (profile, email, address, phone).
// Errors are RFC 6750 §3's: 401 invalid_token (with a Bearer challenge) for
// a token that is missing, malformed, not ours, expired, revoked, a
// client's own or of a removed or disabled user; 403 insufficient_scope
// without openid.
func (i *Issuer) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeMethodNotAllowed(w, "GET, POST")
		return
	}
	authz := r.Header.Values("Authorization")
	if len(authz) == 0 {
		i.bearerError(w, http.StatusUnauthorized, "", "")
		return
	}
	tok, dpop, ok := userinfoCredential(authz[0])
	if len(authz) != 1 || !ok || len(tok) > maxTokenBytes {
		i.bearerError(w, http.StatusBadRequest, "invalid_request", "one Bearer token in the Authorization header")
		return
	}
	info, err := i.resolve(r.Context(), tok)
	if err != nil {
		if errors.Is(err, errNotOurs) {
			i.bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid or expired")
			return
		}
		writeError(w, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "token store unavailable"), i.realm)
		return
	}
	if i.admissible(info.jti, info.clientID, info.subject, info.scopes, info.issuedAt, info.authTime, i.now().Unix()) != nil || info.authTime == 0 {
		i.bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is not a valid user's token")
		return
	}
	if why := i.checkUserinfoBinding(r, tok, dpop, info.cnf); why != "" {
		i.bearerError(w, http.StatusUnauthorized, "invalid_token", why)
		return
	}
	if !slices.Contains(info.scopes, "openid") {
		i.bearerError(w, http.StatusForbidden, "insufficient_scope", "the access token lacks the openid scope")
		return
	}
	e, err := i.findUser(r.Context(), info.subject)
	if err != nil || e.user.Disabled {
		i.bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is not a valid user's token")
		return
	}
	claims := userClaims(&e.user, info.scopes)
	claims["sub"] = info.subject
	writeJSON(w, http.StatusOK, claims)
}

// bearerError answers an RFC 6750 §3 error: the challenge, and the same
// code as JSON. code "" is a request without a token (challenge only).
func (i *Issuer) bearerError(w http.ResponseWriter, status int, code, desc string) {
	ch := "Bearer realm=" + quoteHeader(i.realm)
	if code != "" {
		ch += ", error=" + quoteHeader(code)
		if desc != "" {
			ch += ", error_description=" + quoteHeader(sanitizeDescription(desc))
		}
		if code == "insufficient_scope" {
			ch += `, scope="openid"`
		}
	}
	w.Header().Set("WWW-Authenticate", ch)
	if code == "" {
		setNoStore(w.Header())
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, errorResponse{Error: code, Description: sanitizeDescription(desc)})
}
