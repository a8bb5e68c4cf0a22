package gateway

import (
	"net/http"
	"strings"
	"time"
)

// secureRequest: cookies get Secure and the __Host-/__Secure- prefixes on
// https.
func secureRequest(r *http.Request) bool { return r.TLS != nil }

// sessionCookieName is the session cookie's name on this request's scheme:
// __Host- on https (host-only, Path=/, Secure: a sibling subdomain cannot
// set or shadow it).
func (l *Login) sessionCookieName(r *http.Request) string {
	if secureRequest(r) {
		return "__Host-" + l.cfg.CookieName
	}
	return l.cfg.CookieName
}

// attemptCookieName is the cookie of one sign-in attempt, named after its
// state, so several tabs signing in at once each find their own. It is
// scoped to the callback path (__Secure-: __Host- requires Path=/).
func (l *Login) attemptCookieName(r *http.Request, state string) string {
	name := l.cfg.CookieName + "_login_" + state
	if secureRequest(r) {
		return "__Secure-" + name
	}
	return name
}

func (l *Login) setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: l.sessionCookieName(r), Value: value, Path: "/",
		MaxAge: int(maxAge / time.Second), HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

func (l *Login) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: l.sessionCookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

func (l *Login) setAttemptCookie(w http.ResponseWriter, r *http.Request, state, value string) {
	http.SetCookie(w, &http.Cookie{
		Name: l.attemptCookieName(r, state), Value: value, Path: l.cfg.CallbackPath,
		MaxAge: int(LoginAttemptTTL / time.Second), HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

func (l *Login) clearAttemptCookie(w http.ResponseWriter, r *http.Request, state string) {
	http.SetCookie(w, &http.Cookie{
		Name: l.attemptCookieName(r, state), Value: "", Path: l.cfg.CallbackPath, MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

// maxCookieHeader bounds the Cookie header bytes scanned for one cookie.
const maxCookieHeader = 64 << 10

// cookieValue finds the one cookie named name without parsing (and
// allocating) every cookie of the header. Two cookies of that name (one
// planted by a sibling domain next to ours) are ambiguous: none is used.
func cookieValue(r *http.Request, name string) (string, bool) {
	var found string
	n := 0
	for _, line := range r.Header["Cookie"] {
		if len(line) > maxCookieHeader {
			return "", false
		}
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			found = v
			n++
		}
	}
	if n != 1 {
		return "", false
	}
	return found, true
}

// SetCookie sends a (resealed) session cookie value.
func (l *Login) SetCookie(w http.ResponseWriter, r *http.Request, value string) {
	l.setSessionCookie(w, r, value, l.cfg.SessionTTL)
}

// ClearCookie removes a session cookie that no longer names a session.
func (l *Login) ClearCookie(w http.ResponseWriter, r *http.Request) {
	if _, ok := cookieValue(r, l.sessionCookieName(r)); ok {
		l.clearSessionCookie(w, r)
	}
}
