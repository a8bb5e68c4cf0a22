package gateway

import (
	"net/http"
	"strconv"
	"strings"
)

// Error is a refused request: the status, the RFC 6750 error code and the
// reason logged and counted. Description and Reason are precise and go to the
// log line and the metrics label only; the client gets the one generic text
// of its error class (Public), so the answer is no oracle for why a token
// failed (revoked, client disabled, address not allowed, bad signature, ...).
type Error struct {
	Status int
	Code   string // "", invalid_request, invalid_token, insufficient_scope
	// Description is the precise cause, for logs.
	Description string
	// Reason is a short stable label for logs and metrics (no_token,
	// ip_denied, expired, signature, insufficient_scope, ...).
	Reason string
	// Scope lists the scopes the route requires (insufficient_scope only).
	Scope string
	// RetryAfter, in seconds, for 503 answers.
	RetryAfter int
	// Subject and ClientID of the token, when it was decoded far enough.
	Subject, ClientID string
	// Rule names the IP rule that refused the address (ip_denied only).
	Rule string
	// Scheme of the challenge: "" for Bearer, "DPoP" when the request
	// used DPoP or the route requires it (RFC 9449 §7.1).
	Scheme string
	// DPoPAlgs, when set, are the algs of the route's DPoP challenge; a
	// Bearer challenge then has a DPoP challenge beside it.
	DPoPAlgs string
	// LoginRequired: no usable browser session; a browser navigation is
	// sent to sign in (login), anything else gets the 401.
	LoginRequired bool
	// Session: the refused identity came from a browser session (a rule
	// refusal is answered with the 403 page).
	Session bool
	Err     error
}

// publicDescriptions are the only error_description texts a client sees:
// one per RFC 6750 error code.
var publicDescriptions = map[string]string{
	"invalid_request":    "the request's credentials are malformed or ambiguous",
	"invalid_token":      "the access token is invalid",
	"insufficient_scope": "the access token does not grant access to this resource",
	"invalid_dpop_proof": "the DPoP proof is invalid",
}

// Public is the error_description sent to the client: the generic text of
// the error's class.
func (e *Error) Public() string { return publicDescriptions[e.Code] }

// Error is what reaches the client through Caddy's error routing
// ({err.message}): "<code>: <generic text>" for RFC 6750 errors, otherwise
// the reason label and its fixed text (no_token, ip_denied, too_early,
// keys_unavailable). The precise cause is in Description, for logs.
func (e *Error) Error() string {
	if e.Code != "" {
		return e.Code + ": " + e.Public()
	}
	if e.Description == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Description
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Challenge renders the WWW-Authenticate value (RFC 6750 §3), or "" when the
// answer carries none (IP refusals, unavailable keys).
func (e *Error) Challenge(realm string) string {
	if e.Status != http.StatusUnauthorized && e.Status != http.StatusForbidden && e.Status != http.StatusBadRequest {
		return ""
	}
	if e.Reason == ReasonIPDenied {
		return ""
	}
	var b strings.Builder
	if e.Scheme == schemeDPoP {
		b.WriteString(`DPoP realm=`)
	} else {
		b.WriteString(`Bearer realm=`)
	}
	b.WriteString(quote(realm))
	if e.Code != "" {
		b.WriteString(`, error=`)
		b.WriteString(quote(e.Code))
		if d := e.Public(); d != "" {
			b.WriteString(`, error_description=`)
			b.WriteString(quote(d))
		}
	}
	if e.Scope != "" {
		b.WriteString(`, scope=`)
		b.WriteString(quote(e.Scope))
	}
	if e.Scheme == schemeDPoP && e.DPoPAlgs != "" {
		b.WriteString(`, algs=`)
		b.WriteString(quote(e.DPoPAlgs))
	}
	return b.String()
}

// SetHeaders writes the challenge and Retry-After headers for this error.
func (e *Error) SetHeaders(h http.Header, realm string) {
	if c := e.Challenge(realm); c != "" {
		h.Set("WWW-Authenticate", c)
		if e.Scheme != schemeDPoP && e.DPoPAlgs != "" && e.Status == http.StatusUnauthorized {
			// RFC 9449 §7.1: the route takes DPoP too; say with which
			// algorithms, beside the Bearer challenge.
			h.Add("WWW-Authenticate", `DPoP realm=`+quote(realm)+`, algs=`+quote(e.DPoPAlgs))
		}
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
}

// quote renders an RFC 7230 quoted-string. RFC 6750 limits error_description
// to printable ASCII without '"' and '\\', so anything else is replaced.
func quote(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			c = '\''
			if s[i] < 0x20 || s[i] > 0x7e {
				c = '?'
			}
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}

// Reasons that are not token.Reason values.
const (
	ReasonNoToken           = "no_token"
	ReasonMultipleTokens    = "multiple_tokens"
	ReasonIPDenied          = "ip_denied"
	ReasonInsufficientScope = "insufficient_scope"
	ReasonClaimMismatch     = "claim_mismatch"
	ReasonBadHeaderValue    = "bad_header_value"
	ReasonNotAdmitted       = "not_admitted"
	ReasonMalformed         = "malformed_credentials"
	ReasonTooEarly          = "too_early"
)

func errNoToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: ReasonNoToken}
}

func errInvalidRequest(reason, desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Reason: reason, Description: desc}
}

func errInvalidToken(reason, desc string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Reason: reason, Description: desc}
}

func errTooEarly() *Error {
	return &Error{Status: http.StatusTooEarly, Reason: ReasonTooEarly,
		Description: "TLS handshake not complete: the client address cannot be verified yet"}
}
