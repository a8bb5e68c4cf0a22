package issuer

import (
	"net/http"
	"net/netip"
)

// serveToken is the token endpoint: it authenticates the client, runs the
// requested grant (grant.go) and mints what the grant asked for (mint.go).
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request, ip netip.Addr) {
	if e := i.storeUnavailable(); e != nil {
		writeError(w, e, i.realm)
		return
	}
	f, c, ok := i.clientRequest(w, r, ip)
	if !ok {
		return
	}
	now := i.now()
	cnf, e := i.dpopBinding(w, r, c, now)
	var m *mintRequest
	if e == nil {
		m, e = i.grantRequest(r.Context(), f, c, now)
	}
	if e == nil {
		e = checkBoundKey(m, cnf)
	}
	if e == nil {
		bindDPoPKey(m, cnf)
		e = i.bindCertificate(r, c, m)
	}
	if e == nil {
		e = checkBoundCertificate(r, m)
	}
	if e == nil {
		var resp *tokenResponse
		if resp, e = i.mint(r.Context(), m, now); e == nil {
			writeJSON(w, http.StatusOK, resp)
			return
		}
	}
	writeError(w, e, i.realm)
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

func serverError() *oauthError {
	return newError(http.StatusInternalServerError, errServerError, "the token could not be issued")
}
