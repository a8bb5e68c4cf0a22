package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"net/url"
)

// sameSite reports a request that this site's own pages caused: Sec-Fetch-Site
// same-origin or same-site, else an Origin or Referer of this origin. "none"
// (typed into the address bar, a bookmark) counts only for GET, which a
// cross-site page cannot make look like it.
func sameSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "same-site":
		return true
	case "none":
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	case "":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		return o == origin(r)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme+"://"+u.Host == origin(r)
	}
	return false
}

// csrfToken binds the logout form to this browser's session cookie.
func (l *Login) csrfToken(r *http.Request) string {
	secret, err := l.gatewaySecret(r.Context())
	if err != nil {
		return ""
	}
	v, _ := cookieValue(r, l.sessionCookieName(r))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("logout\x00" + v))
	return b64url.EncodeToString(m.Sum(nil))
}

// serveLogout ends the session: POST from this site (or with the form's
// CSRF token), or GET with a same-site check; a cross-site GET only shows
// a confirmation form, so a link or image elsewhere cannot sign anyone out.
func (l *Login) serveLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		ok := sameSite(r)
		if !ok {
			if err := r.ParseForm(); err == nil {
				want := l.csrfToken(r)
				ok = want != "" && hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(want))
			}
		}
		if !ok {
			l.renderError(w, r, http.StatusForbidden, pageText{"Sign-out refused", "This sign-out did not come from this site."})
			return
		}
	case http.MethodGet, http.MethodHead:
		if !sameSite(r) {
			l.render(w, r, http.StatusOK, pageData{Title: pageLogout.title, Message: pageLogout.message,
				Form: l.cfg.LogoutPath, CSRF: l.csrfToken(r), Button: "Sign out"})
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		l.renderError(w, r, http.StatusMethodNotAllowed, pageText{"Sign-out failed", "Use the sign-out button."})
		return
	}
	var rec *sessionRecord
	if v, ok := cookieValue(r, l.sessionCookieName(r)); ok {
		rec = l.endSession(r.Context(), r, v)
	}
	l.clearSessionCookie(w, r)
	if ep, err := l.cfg.Provider(r.Context()); err == nil && ep.EndSessionEndpoint != "" && rec != nil {
		u, err := url.Parse(ep.EndSessionEndpoint)
		if err == nil {
			q := u.Query()
			q.Set("client_id", l.cfg.ClientID)
			if rec.IDToken != "" {
				q.Set("id_token_hint", rec.IDToken)
			}
			if l.cfg.PostLogoutRedirect != "" {
				q.Set("post_logout_redirect_uri", l.cfg.PostLogoutRedirect)
			}
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
	}
	if l.cfg.PostLogoutRedirect != "" {
		http.Redirect(w, r, l.cfg.PostLogoutRedirect, http.StatusSeeOther)
		return
	}
	l.render(w, r, http.StatusOK, pageData{Title: pageSignedOut.title, Message: pageSignedOut.message, Link: "/", LinkText: "Sign in again"})
}
