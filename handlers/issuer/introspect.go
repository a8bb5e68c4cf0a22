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
	now := i.now().Unix()
	active := err == nil &&
		i.admissible(info.jti, info.clientID, info.scopes, now) == nil &&
		(info.clientID == c.id || slices.Contains(info.audience, c.id))
	h := w.Header()
	setNoStore(h)
	h.Set("Content-Type", "application/json")
	if !active {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"active":false}` + "\n"))
		return
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"active":true`...)
	if len(info.scopes) > 0 {
		b = append(b, `,"scope":`...)
		b = appendSpaceJoined(b, info.scopes)
	}
	b = append(b, `,"client_id":`...)
	b = appendJSONString(b, info.clientID)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, info.subject)
	switch len(info.audience) {
	case 0:
	case 1:
		b = append(b, `,"aud":`...)
		b = appendJSONString(b, info.audience[0])
	default:
		b = append(b, `,"aud":`...)
		b = appendJSONStrings(b, info.audience)
	}
	b = append(b, `,"iss":`...)
	b = appendJSONString(b, i.iss)
	b = append(b, `,"exp":`...)
	b = appendInt(b, info.expiresAt)
	b = append(b, `,"iat":`...)
	b = appendInt(b, info.issuedAt)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, info.jti)
	b = append(b, `,"token_type":"Bearer"}`+"\n"...)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
