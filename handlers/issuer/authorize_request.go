package issuer

import (
	"github.com/authgate/caddy-authgate/token"

	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Authorization request limits.
const (
	maxAuthorizeQuery = 8 << 10 // the whole request's parameters
	maxStateBytes     = 2048
	maxNonceBytes     = 512
	maxLoginHintBytes = maxUserName
)

// Authorization error codes (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6).
const (
	errAccessDenied            = "access_denied"
	errUnsupportedResponseType = "unsupported_response_type"
	errLoginRequired           = "login_required"
	errConsentRequired         = "consent_required"
	errRequestNotSupported     = "request_not_supported"
	errRequestURINotSupported  = "request_uri_not_supported"
)

// authorizeParams are the parameters the authorization endpoint reads; any
// other is ignored (RFC 6749 §3.1) and not carried through the forms.
var authorizeParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint", "response_mode",
	"request", "request_uri", "ui_locales", "display", "claims", "id_token_hint", "acr_values"}

// authzRequest is a checked authorization request.
type authzRequest struct {
	raw          string // the request's parameters, encoded, for the forms
	client       *client
	redirectURI  string
	responseType string // "code" or "token"
	scopes       []string
	state        string
	nonce        string
	challenge    string
	loginHint    string
	idTokenHint  string // verified when used (authorize.go)
	prompt       map[string]bool
	maxAge       int64 // -1: none
}

// fragment reports whether the response goes in the fragment (implicit).
func (a *authzRequest) fragment() bool { return a.responseType == "token" }

// authzPageError is an error that must not go back to the redirect_uri
// (unknown client, unregistered redirect_uri): it is shown as a page.
type authzPageError struct {
	status int
	code   string
	desc   string
}

// parseAuthorize checks an authorization request. A pageErr means the
// client or the redirect_uri cannot be trusted; an oauthErr goes back to the
// (verified) redirect_uri with req set.
func (i *Issuer) parseAuthorize(vals url.Values) (req *authzRequest, pageErr *authzPageError, oauthErr *oauthError) {
	one := func(k string) (string, bool) {
		v := vals[k]
		if len(v) > 1 {
			return "", false
		}
		if len(v) == 1 {
			return v[0], true
		}
		return "", true
	}
	clientID, ok1 := one("client_id")
	redirectURI, ok2 := one("redirect_uri")
	if !ok1 || !ok2 {
		return nil, &authzPageError{http.StatusBadRequest, errInvalidRequest, "client_id or redirect_uri is repeated"}, nil
	}
	if clientID == "" {
		return nil, &authzPageError{http.StatusBadRequest, errInvalidRequest, "client_id is missing"}, nil
	}
	c := i.clients.load().byID[clientID]
	if c == nil || c.disabled {
		return nil, &authzPageError{http.StatusBadRequest, errInvalidClient, "unknown client"}, nil
	}
	if redirectURI == "" {
		return nil, &authzPageError{http.StatusBadRequest, errInvalidRequest, "redirect_uri is missing"}, nil
	}
	if !c.matchRedirect(redirectURI) {
		return nil, &authzPageError{http.StatusBadRequest, errInvalidRequest, "redirect_uri is not registered for this client"}, nil
	}
	req = &authzRequest{client: c, redirectURI: redirectURI, maxAge: -1}
	// From here on errors go back to the client.
	keep := url.Values{}
	for _, k := range authorizeParams {
		v, ok := one(k)
		if !ok {
			return req, nil, invalidRequest("parameter " + k + " is repeated")
		}
		if v != "" {
			keep.Set(k, v)
		}
	}
	for k, v := range keep {
		if !utf8Valid(v[0]) || !utf8Valid(k) {
			return req, nil, invalidRequest("malformed parameters")
		}
	}
	req.state = keep.Get("state")
	if len(req.state) > maxStateBytes {
		req.state = ""
		return req, nil, invalidRequest("state is too long")
	}
	rt := keep.Get("response_type")
	switch rt {
	case "code", "token":
	case "":
		return req, nil, invalidRequest("response_type is missing")
	default:
		return req, nil, newError(http.StatusBadRequest, errUnsupportedResponseType, "response_type must be code (or token for implicit clients)")
	}
	if keep.Get("request") != "" {
		return req, nil, newError(http.StatusBadRequest, errRequestNotSupported, "request objects are not supported")
	}
	if keep.Get("request_uri") != "" {
		return req, nil, newError(http.StatusBadRequest, errRequestURINotSupported, "request_uri is not supported")
	}
	if rt == "code" && !c.allowsGrant(GrantAuthorizationCode) || rt == "token" && !c.allowsGrant(GrantImplicit) {
		return req, nil, newError(http.StatusBadRequest, errUnauthorizedClient, "the client may not use response_type "+rt)
	}
	if rt == "token" && req.client.senderConstrained() {
		req.responseType = rt // the error goes in the fragment
		return req, nil, newError(http.StatusBadRequest, errUnauthorizedClient, "this client's tokens must be sender-constrained; use response_type code")
	}
	// Errors from here on go in the fragment for the implicit grant.
	req.responseType = rt
	switch mode := keep.Get("response_mode"); {
	case mode == "", rt == "code" && mode == "query", rt == "token" && mode == "fragment":
	default:
		return req, nil, invalidRequest("response_mode must be query for code, fragment for token")
	}
	scopes, oe := narrowScopes(keep.Get("scope"), c.hasScope, c.scopes)
	if oe != nil {
		return req, nil, oe
	}
	req.scopes = scopes
	if rt == "code" {
		ch, method := keep.Get("code_challenge"), keep.Get("code_challenge_method")
		switch {
		case ch == "":
			return req, nil, invalidRequest("code_challenge is required (PKCE, S256)")
		case method == "plain":
			return req, nil, invalidRequest("code_challenge_method plain is not allowed; use S256")
		case method != "S256":
			return req, nil, invalidRequest("code_challenge_method must be S256")
		case !validS256Challenge(ch):
			return req, nil, invalidRequest("code_challenge must be 43 base64url characters (S256)")
		}
		req.challenge = ch
	}
	req.nonce = keep.Get("nonce")
	if len(req.nonce) > maxNonceBytes {
		return req, nil, invalidRequest("nonce is too long")
	}
	req.loginHint = keep.Get("login_hint")
	if len(req.loginHint) > maxLoginHintBytes {
		req.loginHint = ""
	}
	req.idTokenHint = keep.Get("id_token_hint")
	if len(req.idTokenHint) > token.DefaultMaxTokenBytes {
		return req, nil, invalidRequest("id_token_hint is too long")
	}
	req.prompt = map[string]bool{}
	for _, p := range strings.Fields(keep.Get("prompt")) {
		switch p {
		case "none", "login", "consent":
			req.prompt[p] = true
		case "select_account":
			req.prompt["login"] = true
		default:
			return req, nil, invalidRequest("unsupported prompt value")
		}
	}
	if req.prompt["none"] && len(req.prompt) > 1 {
		return req, nil, invalidRequest("prompt none cannot be combined with other values")
	}
	if ma := keep.Get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || n < 0 || n > int64(MaxTTL.Seconds()) {
			return req, nil, invalidRequest("max_age must be a non-negative number of seconds")
		}
		req.maxAge = n
	}
	req.raw = keep.Encode()
	return req, nil, nil
}

// validS256Challenge: BASE64URL(SHA-256) is 43 characters (RFC 7636 §4.2).
func validS256Challenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// matchRedirect compares a redirect_uri exactly with the registered ones;
// for a registered loopback IP redirect (http://127.0.0.1/..., http://[::1]/...)
// any port is accepted, everything else exact (RFC 8252 §7.3).
func (c *client) matchRedirect(uri string) bool {
	if len(uri) > MaxRedirectURIBytes {
		return false
	}
	if slices.Contains(c.redirectURIs, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || strings.Contains(uri, "#") {
		return false
	}
	host, port := u.Hostname(), u.Port()
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() || port == "" {
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return false
	}
	for _, reg := range c.redirectURIs {
		r, err := url.Parse(reg)
		if err != nil || r.Scheme != "http" || r.Hostname() != host {
			continue
		}
		// Equal once both ports are dropped.
		r.Host = hostOnly(r)
		v := *u
		v.Host = hostOnly(u)
		if r.String() == v.String() {
			return true
		}
	}
	return false
}

func hostOnly(u *url.URL) string {
	h := u.Hostname()
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// formTarget is the CSP form-action source of a redirect URI.
func formTarget(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return ""
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

// authorizationResponse builds the redirect to the client: the parameters
// in the query (code) or the fragment (token), with iss (RFC 9207).
func authorizationResponse(redirectURI string, fragment bool, params url.Values) string {
	enc := params.Encode()
	if fragment {
		return redirectURI + "#" + enc
	}
	if strings.Contains(redirectURI, "?") {
		return redirectURI + "&" + enc
	}
	return redirectURI + "?" + enc
}
