package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/authgate/caddy-authgate/token"
)

// Bounds on callback parameters: anything longer is refused before use.
const (
	maxStateLen = 64
	maxCodeLen  = 4096
	maxErrLen   = 256
	maxQueryLen = 8192
)

// callbackParams are the callback's query, checked.
type callbackParams struct {
	state, code, errCode, errDesc string
}

// parseCallback checks the callback query: exactly one value per
// parameter, bounded lengths, a well-formed state, and either a code or an
// error (RFC 6749 §4.1.2).
func parseCallback(rawQuery string) (callbackParams, bool) {
	if len(rawQuery) > maxQueryLen {
		return callbackParams{}, false
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return callbackParams{}, false
	}
	one := func(name string, max int) (string, bool) {
		v := q[name]
		switch {
		case len(v) == 0:
			return "", true
		case len(v) > 1 || len(v[0]) > max:
			return "", false
		}
		return v[0], true
	}
	var p callbackParams
	var ok [4]bool
	p.state, ok[0] = one("state", maxStateLen)
	p.code, ok[1] = one("code", maxCodeLen)
	p.errCode, ok[2] = one("error", maxErrLen)
	p.errDesc, ok[3] = one("error_description", maxErrLen)
	if !ok[0] || !ok[1] || !ok[2] || !ok[3] {
		return callbackParams{}, false
	}
	if _, valid := decodeTicket(p.state); !valid {
		return callbackParams{}, false
	}
	if (p.code == "") == (p.errCode == "") {
		return callbackParams{}, false
	}
	for _, s := range []string{p.code, p.errCode} {
		if !printableASCII(s) {
			return callbackParams{}, false
		}
	}
	return p, true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (l *Login) serveCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		l.renderError(w, r, http.StatusMethodNotAllowed, pageBadCallback)
		return
	}
	p, ok := parseCallback(r.URL.RawQuery)
	if !ok {
		l.renderError(w, r, http.StatusBadRequest, pageBadCallback)
		return
	}
	a, ok := l.openAttempt(r, p.state)
	l.clearAttemptCookie(w, r, p.state) // used once, whatever happens next
	if !ok {
		// No cookie for this state: forged, replayed, expired or opened in
		// another browser.
		l.renderError(w, r, http.StatusBadRequest, pageStaleAttempt)
		return
	}
	now := l.cfg.Now()
	first, err := l.cfg.Markers.MarkUsed(r.Context(), "gateway-login:"+sessionID([]byte(p.state)), time.Unix(a.Created, 0).Add(LoginAttemptTTL+time.Minute))
	if err != nil {
		l.cfg.Logger.Error("sign-in: store unavailable", "error", err)
		l.renderError(w, r, http.StatusServiceUnavailable, pageStoreDown)
		return
	}
	if !first {
		l.renderError(w, r, http.StatusBadRequest, pageStaleAttempt)
		return
	}
	if p.errCode != "" {
		l.cfg.Logger.Info("sign-in: provider answered an error", "error", p.errCode, "description", p.errDesc)
		l.renderProviderError(w, r, p.errCode, p.errDesc, a.Return)
		return
	}
	ep, err := l.cfg.Provider(r.Context())
	if err != nil {
		l.renderError(w, r, http.StatusBadGateway, pageProviderDown)
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, l.cfg.HTTPClient)
	tok, err := l.oauth(r, ep).Exchange(ctx, p.code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		l.cfg.Logger.Warn("sign-in: code exchange failed", "error", exchangeError(err))
		l.renderError(w, r, http.StatusBadGateway, pageExchangeFailed)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		l.cfg.Logger.Warn("sign-in: token response has no id_token")
		l.renderError(w, r, http.StatusBadGateway, pageExchangeFailed)
		return
	}
	idc, err := l.verifyIDToken(r.Context(), rawID, a.Nonce, tok.AccessToken, now)
	if err != nil {
		l.cfg.Logger.Warn("sign-in: ID token refused", "error", err)
		l.renderError(w, r, http.StatusBadGateway, pageBadIDToken)
		return
	}
	identity, err := l.identity(r.Context(), ep, idc, tok, now)
	if err != nil {
		l.cfg.Logger.Warn("sign-in: userinfo refused", "error", err)
		l.renderError(w, r, http.StatusBadGateway, pageBadIDToken)
		return
	}
	rec := &sessionRecord{
		Host: r.Host, Sub: idc.Subject, Identity: identity, IDToken: rawID,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		Obtained: now.Unix(), Created: now.Unix(), Expires: now.Add(l.cfg.SessionTTL).Unix(), LastSeen: now.Unix(),
	}
	rec.AccessExpiry = accessExpiry(tok, now)
	// A new ticket at every sign-in (no fixation); a session the browser
	// had before is ended.
	if old, ok := cookieValue(r, l.sessionCookieName(r)); ok {
		l.endSession(r.Context(), r, old)
	}
	value, err := l.saveNew(r.Context(), r, rec)
	if err != nil {
		l.cfg.Logger.Error("sign-in: session not stored", "error", err)
		l.renderError(w, r, http.StatusServiceUnavailable, pageStoreDown)
		return
	}
	l.setSessionCookie(w, r, value, time.Duration(rec.Expires-now.Unix())*time.Second)
	ret := a.Return
	if !safeReturn(ret) {
		ret = "/"
	}
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

// openAttempt finds and opens the attempt cookie of state.
func (l *Login) openAttempt(r *http.Request, state string) (loginAttempt, bool) {
	v, ok := cookieValue(r, l.attemptCookieName(r, state))
	if !ok || len(v) > 1024 {
		return loginAttempt{}, false
	}
	sealed, err := b64url.DecodeString(v)
	if err != nil {
		return loginAttempt{}, false
	}
	secret, err := l.gatewaySecret(r.Context())
	if err != nil {
		return loginAttempt{}, false
	}
	plain, err := open(derive("login-attempt", secret), sealed, []byte(state))
	if err != nil {
		return loginAttempt{}, false
	}
	var a loginAttempt
	if json.Unmarshal(plain, &a) != nil {
		return loginAttempt{}, false
	}
	age := l.cfg.Now().Sub(time.Unix(a.Created, 0))
	if age < -time.Minute || age > LoginAttemptTTL || a.Host != r.Host || a.Nonce == "" || a.Verifier == "" {
		return loginAttempt{}, false
	}
	return a, true
}

// exchangeError keeps a token endpoint failure loggable without its body
// (which may echo secrets).
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return errors.New("token endpoint: " + re.ErrorCode)
		}
		if re.Response != nil {
			return errors.New("token endpoint: " + re.Response.Status)
		}
	}
	return err
}

// identity assembles the session's claims: userinfo (when the provider has
// an endpoint), overlaid by the verified ID token's claims, the granted
// scope, and exp set to the session's end (by the caller).
func (l *Login) identity(ctx context.Context, ep ProviderEndpoints, idc *token.Claims, tok *oauth2.Token, now time.Time) (json.RawMessage, error) {
	claims := map[string]any{}
	if ep.UserinfoEndpoint != "" && tok.AccessToken != "" {
		ui, err := l.userinfo(ctx, ep.UserinfoEndpoint, tok.AccessToken)
		if err != nil {
			return nil, err
		}
		if s, _ := ui["sub"].(string); s != idc.Subject {
			return nil, errors.New("userinfo sub differs from the ID token's")
		}
		for k, v := range ui {
			claims[k] = v
		}
	}
	raw, err := idc.Raw()
	if err != nil {
		return nil, err
	}
	for k, v := range raw {
		claims[k] = v
	}
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		claims["scope"] = s
	} else {
		claims["scope"] = joinScopes(l.cfg.Scopes)
	}
	return json.Marshal(claims)
}

func joinScopes(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
