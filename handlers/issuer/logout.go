package issuer

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/authgate/caddy-authgate/token"
)

// serveLogout is GET|POST <prefix>/logout, OpenID Connect RP-Initiated
// Logout 1.0: id_token_hint (an ID token of ours; expired ones are fine),
// client_id, post_logout_redirect_uri (registered for that client, exact)
// and state. A request whose id_token_hint names the signed-in person (or
// with nobody signed in) signs out at once; any other asks for
// confirmation first (a cross-site link must not sign people out).
func (i *Issuer) serveLogout(w http.ResponseWriter, r *http.Request) {
	vals, ok := i.pageParams(w, r)
	if !ok {
		return
	}
	for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "csrf", "confirm"} {
		if len(vals[k]) > 1 {
			i.errorPage(w, r, http.StatusBadRequest, errInvalidRequest, "parameter "+k+" is repeated")
			return
		}
	}
	ctx := r.Context()
	hintSub, clientID := "", vals.Get("client_id")
	if hint := vals.Get("id_token_hint"); hint != "" {
		c, err := i.verifyIDTokenHint(ctx, hint)
		if err != nil {
			i.errorPage(w, r, http.StatusBadRequest, errInvalidRequest, "id_token_hint is not a valid ID token of this issuer")
			return
		}
		if clientID != "" && !slices.Contains(c.Audience, clientID) {
			i.errorPage(w, r, http.StatusBadRequest, errInvalidRequest, "client_id is not the id_token_hint's audience")
			return
		}
		hintSub = c.Subject
		if clientID == "" && len(c.Audience) > 0 {
			clientID = c.Audience[0]
		}
	}
	target := vals.Get("post_logout_redirect_uri")
	if target != "" {
		c := i.clients.load().byID[clientID]
		if c == nil || !slices.Contains(c.postLogoutRedirectURIs, target) {
			i.errorPage(w, r, http.StatusBadRequest, errInvalidRequest, "post_logout_redirect_uri is not registered for the client")
			return
		}
	}
	sess, user := i.currentSession(ctx, r)
	confirmed := r.Method == http.MethodPost && vals.Get("confirm") == "yes" && i.checkCSRF(r, vals.Get("csrf"))
	if !confirmed && sess != nil && (hintSub == "" || hintSub != sess.Subject) {
		csrf, err := i.csrfToken(w, r)
		if err != nil {
			i.errorPage(w, r, http.StatusServiceUnavailable, errTemporarilyUnavailable, "sign-out is not available")
			return
		}
		var hidden []hiddenField
		for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
			if v := vals.Get(k); v != "" {
				hidden = append(hidden, hiddenField{k, v})
			}
		}
		status := http.StatusOK
		if r.Method == http.MethodPost && vals.Get("confirm") != "" {
			status = http.StatusForbidden // a confirmation without a valid CSRF token
		}
		i.render(w, r, status, "logout.html", &pageData{CSRF: csrf, Action: i.prefix + pathLogout, User: user.Name, Hidden: hidden}, formTarget(target))
		return
	}
	i.endSession(ctx, w, r)
	if target != "" {
		params := url.Values{}
		if st := vals.Get("state"); st != "" && len(st) <= maxStateBytes {
			params.Set("state", st)
		}
		loc := target
		if len(params) > 0 {
			loc = authorizationResponse(target, false, params)
		}
		i.redirect(w, r, loc)
		return
	}
	i.render(w, r, http.StatusOK, "logout.html", &pageData{Done: true})
}

// verifyIDTokenHint checks an ID token's signature and issuer (not its
// expiry: a hint is often an old token).
func (i *Issuer) verifyIDTokenHint(ctx context.Context, hint string) (*token.Claims, error) {
	policy := token.Policy{Issuers: []string{i.iss}}
	return token.VerifySignature(ctx, hint, &policy, func(string) (token.KeyResolver, error) { return i.idTokenKeys(), nil })
}
