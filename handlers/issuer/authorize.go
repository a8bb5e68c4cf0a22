package issuer

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// Authorization code lifetimes: a code is redeemable for codeRedeemWindow;
// its record stays until codeRecordLifetime so that a late replay is still
// recognised (and revokes what the first redemption issued).
const (
	codeRedeemWindow   = 60 * time.Second
	codeRecordLifetime = 24 * time.Hour
)

// serveAuthorize is GET|POST <prefix>/authorize (RFC 6749 §4.1.1, §4.2.1;
// OpenID Connect Core §3.1.2).
func (i *Issuer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	vals, ok := i.pageParams(w, r)
	if !ok {
		return
	}
	req, ok := i.checkAuthorize(w, r, vals)
	if !ok {
		return
	}
	sess, user := i.currentSession(r.Context(), r)
	i.continueAuthorize(w, r, req, sess, user, false, false)
}

// pageParams reads the parameters of a GET (query) or POST (form body) to
// a page endpoint; on error it has shown the error page.
func (i *Issuer) pageParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method == http.MethodPost {
		f, oe := parseForm(w, r)
		if oe != nil {
			i.errorPage(w, r, oe.Status, oe.Code, oe.Description)
			return nil, false
		}
		return f.values, true
	}
	if len(r.URL.RawQuery) > maxAuthorizeQuery {
		i.errorPage(w, r, http.StatusRequestURITooLong, errInvalidRequest, "the request is too large")
		return nil, false
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		i.errorPage(w, r, http.StatusBadRequest, errInvalidRequest, "malformed query")
		return nil, false
	}
	return vals, true
}

// checkAuthorize parses the request; on error it has answered (page or
// redirect).
func (i *Issuer) checkAuthorize(w http.ResponseWriter, r *http.Request, vals url.Values) (*authzRequest, bool) {
	if _, err := i.sessionStore(); err != nil {
		i.errorPage(w, r, http.StatusServiceUnavailable, errTemporarilyUnavailable, "sign-in is not available")
		return nil, false
	}
	req, pageErr, oe := i.parseAuthorize(vals)
	if pageErr != nil {
		i.errorPage(w, r, pageErr.status, pageErr.code, pageErr.desc)
		return nil, false
	}
	if oe != nil {
		i.redirectError(w, r, req, oe.Code, oe.Description)
		return nil, false
	}
	return req, true
}

// continueAuthorize takes a checked request as far as it can: the login
// page, the consent page or the response. fresh: the login requirements
// are met (the person just signed in, or answered the consent page shown
// after the checks);
// consented: they just allowed.
func (i *Issuer) continueAuthorize(w http.ResponseWriter, r *http.Request, req *authzRequest, sess *ssoSession, user *User, fresh, consented bool) {
	ctx := r.Context()
	now := i.now()
	needLogin := sess == nil ||
		!fresh && req.prompt["login"] ||
		!fresh && req.maxAge >= 0 && now.Sub(sess.AuthTime) > time.Duration(req.maxAge)*time.Second
	if req.idTokenHint != "" {
		// OIDC Core §3.1.2.1: the hint names whom the client expects; a
		// session of somebody else does not answer it (prompt=none gets
		// login_required, otherwise the person signs in).
		hint, err := i.verifyIDTokenHint(ctx, req.idTokenHint)
		if err != nil {
			i.redirectError(w, r, req, errInvalidRequest, "id_token_hint is not an ID token of this issuer")
			return
		}
		if !fresh && user != nil && hint.Subject != user.Name {
			needLogin = true
		}
	}
	if needLogin {
		if req.prompt["none"] {
			i.redirectError(w, r, req, errLoginRequired, "the user is not signed in")
			return
		}
		i.loginPage(w, r, req, http.StatusOK, req.loginHint, "")
		return
	}
	needConsent := !req.client.skipConsent && !consented &&
		(req.prompt["consent"] || !i.hasConsent(ctx, user.Name, req.client.id, req.scopes))
	if needConsent {
		if req.prompt["none"] {
			i.redirectError(w, r, req, errConsentRequired, "the user has not consented")
			return
		}
		i.consentPage(w, r, req, user)
		return
	}
	i.respond(w, r, req, sess, user)
}

// respond issues the code (or, for the implicit grant, the access token)
// and redirects back to the client.
func (i *Issuer) respond(w http.ResponseWriter, r *http.Request, req *authzRequest, sess *ssoSession, user *User) {
	ctx := r.Context()
	now := i.now()
	params := url.Values{}
	if req.fragment() {
		p, oe := i.implicitResponse(ctx, req, sess, user, now)
		if oe != nil {
			i.redirectError(w, r, req, oe.Code, oe.Description)
			return
		}
		params = p
	} else {
		code, err := i.issueCode(ctx, req, sess, user, now)
		if err != nil {
			i.logger.LogAttrs(ctx, slog.LevelError, "issuing an authorization code failed", slog.String("client_id", req.client.id), slog.String("error", err.Error()))
			i.redirectError(w, r, req, errTemporarilyUnavailable, "the code could not be issued")
			return
		}
		params.Set("code", code)
	}
	i.noteClient(ctx, sess, req.client.id)
	if req.state != "" {
		params.Set("state", req.state)
	}
	params.Set("iss", i.iss)
	i.redirect(w, r, authorizationResponse(req.redirectURI, req.fragment(), params))
}

// issueCode stores a new code bound to everything the token endpoint checks.
func (i *Issuer) issueCode(ctx context.Context, req *authzRequest, sess *ssoSession, user *User, now time.Time) (string, error) {
	cs, err := i.codeStore()
	if err != nil {
		return "", err
	}
	code, err := randomString(32) // 256 bits
	if err != nil {
		return "", err
	}
	family, err := randomString(16)
	if err != nil {
		return "", err
	}
	rec := store.CodeRecord{
		Hash: codeHash(code), ClientID: req.client.id, RedirectURI: req.redirectURI,
		CodeChallenge: req.challenge, Nonce: req.nonce, Scopes: req.scopes,
		Subject: user.Name, AuthTime: sess.AuthTime, SessionID: sess.ID, FamilyID: family,
		RedeemBy: now.Add(codeRedeemWindow), ExpiresAt: now.Add(codeRecordLifetime),
	}
	if err := cs.PutCode(ctx, rec); err != nil {
		return "", err
	}
	return code, nil
}

// redirect answers 303 to a POST (the browser then GETs the client) and 302
// to a GET.
func (i *Issuer) redirect(w http.ResponseWriter, r *http.Request, location string) {
	pageHeaders(w.Header())
	w.Header().Set("Location", location)
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.WriteHeader(status)
}

// redirectError sends an error back to the client's verified redirect_uri
// with error, error_description, state and iss.
func (i *Issuer) redirectError(w http.ResponseWriter, r *http.Request, req *authzRequest, code, desc string) {
	params := url.Values{"error": {code}, "error_description": {sanitizeDescription(desc)}, "iss": {i.iss}}
	if req.state != "" {
		params.Set("state", req.state)
	}
	fragment := req.responseType == "token"
	i.redirect(w, r, authorizationResponse(req.redirectURI, fragment, params))
}

// errorPage shows an error that cannot go back to a client.
func (i *Issuer) errorPage(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	lang := pickLang(r.Header.Get("Accept-Language"))
	msg := messages[lang]["error_generic"]
	if code == errInvalidClient || code == errInvalidRequest && (desc == "redirect_uri is not registered for this client" || desc == "redirect_uri is missing" || desc == "client_id is missing") {
		msg = messages[lang]["error_client"]
	}
	if status == 0 {
		status = http.StatusBadRequest
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "5")
	}
	i.render(w, r, status, "error.html", &pageData{Message: msg, ErrorCode: code, ErrorDescription: sanitizeDescription(desc)})
}

// loginPage renders the sign-in form for req.
func (i *Issuer) loginPage(w http.ResponseWriter, r *http.Request, req *authzRequest, status int, username, errMsg string) {
	csrf, err := i.csrfToken(w, r)
	if err != nil {
		i.errorPage(w, r, http.StatusServiceUnavailable, errTemporarilyUnavailable, "sign-in is not available")
		return
	}
	i.render(w, r, status, "login.html", &pageData{
		CSRF: csrf, Action: i.prefix + pathLogin, Request: req.raw, Client: req.client.displayName(), ClientID: req.client.id,
		Username: username, Error: errMsg,
	}, formTarget(req.redirectURI))
}

// consentPage renders Allow / Deny for req.
func (i *Issuer) consentPage(w http.ResponseWriter, r *http.Request, req *authzRequest, user *User) {
	csrf, err := i.csrfToken(w, r)
	if err != nil {
		i.errorPage(w, r, http.StatusServiceUnavailable, errTemporarilyUnavailable, "sign-in is not available")
		return
	}
	lang := pickLang(r.Header.Get("Accept-Language"))
	items := make([]scopeItem, 0, len(req.scopes))
	for _, s := range req.scopes {
		items = append(items, scopeItem{Name: s, Description: i.scopeDescription(s, lang)})
	}
	i.render(w, r, http.StatusOK, "consent.html", &pageData{
		CSRF: csrf, Action: i.prefix + pathConsent, Request: req.raw, Client: req.client.displayName(), ClientID: req.client.id,
		User: user.Name, Scopes: items,
	}, formTarget(req.redirectURI))
}

func (c *client) displayName() string {
	if c.name != "" {
		return c.name
	}
	return c.id
}

// retryAfter formats a throttling delay for people.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 60 {
		return strconv.FormatInt(s, 10) + "s"
	}
	return strconv.FormatInt((s+59)/60, 10) + "min"
}
