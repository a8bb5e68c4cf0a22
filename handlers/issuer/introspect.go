package issuer

import (
	"errors"
	"net/http"
	"net/netip"
	"slices"
)

// serveIntrospect implements RFC 7662. The caller authenticates as a
// registered client; a token is reported active only when it is ours, valid,
// unrevoked, its client is still enabled, and it was issued to the caller or
// names the caller's client_id in its audience (a resource server).
// Everything else is {"active":false}.
func (i *Issuer) serveIntrospect(w http.ResponseWriter, r *http.Request, ip netip.Addr) {
	c, tok, ok := i.tokenRequest(w, r, ip)
	if !ok {
		return
	}
	info, err := i.resolve(r.Context(), tok)
	if err != nil && !errors.Is(err, errNotOurs) {
		writeError(w, newError(http.StatusServiceUnavailable, "temporarily_unavailable", "token store unavailable"), i.realm)
		return
	}
	if c.public {
		writeError(w, newError(http.StatusBadRequest, errUnauthorizedClient, "public clients may not introspect"), i.realm)
		return
	}
	now := i.now().Unix()
	active := err == nil &&
		i.admissible(info.jti, info.clientID, info.subject, info.scopes, info.issuedAt, info.authTime, now) == nil &&
		(info.authTime == 0 || i.userAdmissible(info.subject) == nil) &&
		(info.clientID == c.id || slices.Contains(info.audience, c.id))
	if !active {
		writeJSON(w, http.StatusOK, introspectionResponse{})
		return
	}
	writeJSON(w, http.StatusOK, introspectionResponse{Active: true, activeToken: &activeToken{
		Scope: spaceJoined(info.scopes), ClientID: info.clientID, Subject: info.subject,
		Audience: info.audience, Issuer: i.iss, ExpiresAt: info.expiresAt, IssuedAt: info.issuedAt,
		JTI: info.jti, TokenType: tokenType(info.cnf), Cnf: info.cnf, Username: info.username(),
	}})
}
