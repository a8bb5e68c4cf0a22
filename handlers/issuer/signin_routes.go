package issuer

import (
	"net/http"
	"net/netip"
)

// Sign-in paths under the path prefix.
const (
	pathAuthorize = "/authorize"
	pathLogin     = "/login"
	pathConsent   = "/consent"
	pathLogout    = "/logout"
	pathStyle     = "/assets/style.css"
)

// Sign-in endpoints (numbered apart from the token side's).
const (
	epAuthorize endpoint = 100 + iota
	epLogin
	epConsent
	epLogout
	epStyle
)

func routeSignIn(rest string) (endpoint, bool) {
	switch rest {
	case pathAuthorize:
		return epAuthorize, true
	case pathLogin:
		return epLogin, true
	case pathConsent:
		return epConsent, true
	case pathLogout:
		return epLogout, true
	case pathStyle:
		return epStyle, true
	}
	return 0, false
}

func (i *Issuer) signInPaths() []string {
	return []string{i.prefix + pathAuthorize, i.prefix + pathLogin, i.prefix + pathConsent, i.prefix + pathLogout, i.prefix + pathStyle}
}

// AuthorizationEndpoint and EndSessionEndpoint are the URLs of the sign-in
// endpoints (for the metadata and in-process relying parties).
func (i *Issuer) AuthorizationEndpoint() string { return i.origin + i.prefix + pathAuthorize }

// EndSessionEndpoint is the RP-initiated logout URL.
func (i *Issuer) EndSessionEndpoint() string { return i.origin + i.prefix + pathLogout }

// serveSignIn serves the sign-in endpoints.
func (i *Issuer) serveSignIn(w http.ResponseWriter, r *http.Request, ep endpoint, clientIP netip.Addr) {
	switch ep {
	case epAuthorize, epLogout:
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			writeMethodNotAllowed(w, "GET, POST")
			return
		}
	case epLogin, epConsent:
		if r.Method != http.MethodPost {
			writeMethodNotAllowed(w, http.MethodPost)
			return
		}
	case epStyle:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeMethodNotAllowed(w, "GET, HEAD")
			return
		}
	}
	switch ep {
	case epAuthorize:
		i.serveAuthorize(w, r)
	case epLogin:
		i.serveLogin(w, r, clientIP)
	case epConsent:
		i.serveConsent(w, r)
	case epLogout:
		i.serveLogout(w, r)
	case epStyle:
		i.serveStyle(w, r)
	}
}
