package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// loginAttempt is what a sign-in remembers between the redirect to the
// provider and the callback, sealed into the attempt cookie.
type loginAttempt struct {
	Verifier string `json:"v"` // PKCE code_verifier
	Nonce    string `json:"n"`
	Return   string `json:"r"` // path and query to go back to, same origin
	Created  int64  `json:"t"` // unix seconds
	Host     string `json:"h"`
}

// BrowserNavigation reports a request a person's browser makes to show a
// page: GET or HEAD accepting text/html, not a fetch/XHR (Sec-Fetch-Mode,
// when sent, says "navigate"). Only those are sent to sign in; anything
// else keeps getting a 401.
func BrowserNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" && m != "navigate" {
		return false
	}
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	for _, a := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(a), "text/html") {
			return true
		}
	}
	return false
}

// Challenge answers a request that has neither a bearer token nor a usable
// session: a browser navigation is redirected to the provider and true is
// returned (the response is written); anything else is left to the caller's
// 401.
func (l *Login) Challenge(w http.ResponseWriter, r *http.Request) bool {
	if !BrowserNavigation(r) {
		return false
	}
	l.startLogin(w, r, returnPath(r))
	return true
}

// returnPath is where the browser goes after sign-in: the request's own path
// and query, so always on this origin.
func returnPath(r *http.Request) string {
	p := r.RequestURI               // as the browser sent it, before any rewrite
	if !strings.HasPrefix(p, "/") { // absolute-form or unset
		p = r.URL.RequestURI()
	}
	if !safeReturn(p) {
		return "/"
	}
	return p
}

// safeReturn accepts only a local absolute path: "/x", never "//host",
// "/\host" (browsers read both as another origin), a scheme or control
// characters.
func safeReturn(p string) bool {
	if p == "" || p[0] != '/' || len(p) > 2048 {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

func (l *Login) startLogin(w http.ResponseWriter, r *http.Request, ret string) {
	ctx := r.Context()
	ep, err := l.cfg.Provider(ctx)
	if err != nil {
		l.cfg.Logger.Warn("sign-in: provider metadata unavailable", "issuer", l.cfg.Issuer, "error", err)
		l.renderError(w, r, http.StatusBadGateway, pageProviderDown)
		return
	}
	secret, err := l.gatewaySecret(ctx)
	if err != nil {
		l.cfg.Logger.Error("sign-in: gateway secret unavailable", "error", err)
		l.renderError(w, r, http.StatusServiceUnavailable, pageStoreDown)
		return
	}
	state := randomToken()
	a := loginAttempt{Verifier: oauth2.GenerateVerifier(), Nonce: randomToken(), Return: ret, Created: l.cfg.Now().Unix(), Host: r.Host}
	plain, _ := json.Marshal(a)
	sealed := seal(derive("login-attempt", secret), plain, []byte(state))
	l.setAttemptCookie(w, r, state, b64url.EncodeToString(sealed))

	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.Verifier), oauth2.SetAuthURLParam("nonce", a.Nonce)}
	for k, v := range l.cfg.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	target := l.oauth(r, ep).AuthCodeURL(state, opts...)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// oauth is the golang.org/x/oauth2 client for this request's origin.
func (l *Login) oauth(r *http.Request, ep ProviderEndpoints) *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	if l.cfg.ClientSecret == "" {
		style = oauth2.AuthStyleInParams // public client: client_id in the form
	} else if len(ep.TokenAuthMethods) > 0 && !contains(ep.TokenAuthMethods, "client_secret_basic") && contains(ep.TokenAuthMethods, "client_secret_post") {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID: l.cfg.ClientID, ClientSecret: l.cfg.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: ep.AuthorizationEndpoint, TokenURL: ep.TokenEndpoint, AuthStyle: style},
		RedirectURL: origin(r) + l.cfg.CallbackPath,
		Scopes:      l.cfg.Scopes,
	}
}

// origin is scheme://host of the request.
func origin(r *http.Request) string {
	if secureRequest(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
