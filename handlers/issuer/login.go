package issuer

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
)

// serveLogin is POST <prefix>/login, the sign-in form: it checks the CSRF
// token and the password, starts a new session and carries on with the
// authorization request the form carries.
func (i *Issuer) serveLogin(w http.ResponseWriter, r *http.Request, clientIP netip.Addr) {
	f, req, ok := i.formRequest(w, r)
	if !ok {
		return
	}
	lang := pickLang(r.Header.Get("Accept-Language"))
	name, password := f.get("username"), f.get("password")
	if len(name) > maxUserName {
		name = name[:0]
	}
	if !i.checkCSRF(r, f.get("csrf")) {
		i.loginPage(w, r, req, http.StatusForbidden, name, messages[lang]["csrf"])
		return
	}
	user, err := i.authenticateUser(r.Context(), name, password, clientIP)
	var te *throttledError
	switch {
	case err == nil:
	case errors.Is(err, errBadCredentials):
		i.loginPage(w, r, req, http.StatusUnauthorized, name, messages[lang]["bad_credentials"])
		return
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.FormatInt(int64(te.retryAfter.Seconds()+0.999), 10))
		i.loginPage(w, r, req, http.StatusTooManyRequests, name, fmt.Sprintf(messages[lang]["throttled"], retryAfter(te.retryAfter)))
		return
	case errors.Is(err, errHashBusy):
		w.Header().Set("Retry-After", "1")
		i.loginPage(w, r, req, http.StatusServiceUnavailable, name, messages[lang]["busy"])
		return
	default:
		i.logger.Error("sign-in failed", "error", err.Error())
		i.loginPage(w, r, req, http.StatusServiceUnavailable, name, messages[lang]["busy"])
		return
	}
	sess, err := i.startSession(r.Context(), w, r, user.Name, requestDigest(req.raw), i.now())
	if err != nil {
		i.logger.Error("starting a session failed", "error", err.Error())
		i.errorPage(w, r, http.StatusServiceUnavailable, errTemporarilyUnavailable, "sign-in is not available")
		return
	}
	i.continueAuthorize(w, r, req, sess, user, true, false)
}

// formRequest reads a login or consent form and re-checks the
// authorization request it carries; on error it has answered.
func (i *Issuer) formRequest(w http.ResponseWriter, r *http.Request) (form, *authzRequest, bool) {
	f, oe := parseForm(w, r)
	if oe != nil {
		i.errorPage(w, r, oe.Status, oe.Code, oe.Description)
		return f, nil, false
	}
	raw := f.get("request")
	if raw == "" || len(raw) > maxAuthorizeQuery {
		i.errorPage(w, r, http.StatusBadRequest, errInvalidRequest, "the form carries no authorization request")
		return f, nil, false
	}
	inner, oe := parseFormBody(raw)
	if oe != nil {
		i.errorPage(w, r, http.StatusBadRequest, errInvalidRequest, "malformed authorization request")
		return f, nil, false
	}
	req, ok := i.checkAuthorize(w, r, inner.values)
	return f, req, ok
}

// serveConsent is POST <prefix>/consent: Allow remembers the consent for
// consent_ttl and answers the client; Deny answers access_denied.
func (i *Issuer) serveConsent(w http.ResponseWriter, r *http.Request) {
	f, req, ok := i.formRequest(w, r)
	if !ok {
		return
	}
	sess, user := i.currentSession(r.Context(), r)
	if sess == nil {
		// The session ended (or never was): sign in again.
		i.loginPage(w, r, req, http.StatusOK, req.loginHint, "")
		return
	}
	if !i.checkCSRF(r, f.get("csrf")) {
		i.errorPage(w, r, http.StatusForbidden, errInvalidRequest, "the form's CSRF token is missing or wrong")
		return
	}
	switch f.get("decision") {
	case "allow":
		if err := i.rememberConsent(r.Context(), user.Name, req.client.id, req.scopes, i.now()); err != nil {
			i.logger.Warn("remembering a consent failed", "error", err.Error())
		}
		// The login checks again, unless this session's sign-in answered
		// this very request (its consent page came right after it).
		i.continueAuthorize(w, r, req, sess, user, i.signedInFor(sess, req), true)
	case "deny":
		i.redirectError(w, r, req, errAccessDenied, "the user denied access")
	default:
		i.errorPage(w, r, http.StatusBadRequest, errInvalidRequest, "decision must be allow or deny")
	}
}
