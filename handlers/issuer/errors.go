package issuer

import (
	"net/http"
	"strconv"
	"strings"
)

// RFC 6749 §5.2, RFC 7009 §2.2.1 and RFC 8693 §2.2.2 error codes.
const (
	errInvalidRequest       = "invalid_request"
	errInvalidClient        = "invalid_client"
	errInvalidGrant         = "invalid_grant"
	errInvalidScope         = "invalid_scope"
	errUnauthorizedClient   = "unauthorized_client"
	errUnsupportedGrantType = "unsupported_grant_type"
	errInvalidTarget        = "invalid_target"
	errServerError          = "server_error"
	// Not in RFC 6749 §5.2 for the token endpoint, but the registered code
	// (§4.1.2.1) clients know for "try again later".
	errTemporarilyUnavailable = "temporarily_unavailable"
	// RFC 8628 §3.5's token-endpoint code for "slow down", used for the
	// per-client issuance rate limit.
	errSlowDown = "slow_down"
)

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	Status      int
	Code        string
	Description string
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int64
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func newError(status int, code, desc string) *oauthError {
	return &oauthError{Status: status, Code: code, Description: desc}
}

func invalidRequest(desc string) *oauthError {
	return newError(http.StatusBadRequest, errInvalidRequest, desc)
}

// setNoStore sets the RFC 6749 §5.1 caching headers.
func setNoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// writeError writes e as JSON. Every 401 (invalid_client) carries a Basic
// challenge with realm: RFC 6749 §5.2 requires it when Basic was used, and
// RFC 9110 §15.5.2 on any 401 (form authentication included).
func writeError(w http.ResponseWriter, e *oauthError, realm string) {
	h := w.Header()
	if e.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm=`+quoteHeader(realm)+`, charset="UTF-8"`)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(e.RetryAfter, 10))
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	// RFC 6749 restricts error_description to %x20-21 / %x23-5B / %x5D-7E.
	writeJSON(w, status, errorResponse{Error: e.Code, Description: sanitizeDescription(e.Description)})
}

// sanitizeDescription keeps only the characters RFC 6749 §5.2 allows in
// error_description.
func sanitizeDescription(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !descChar(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if descChar(s[i]) {
			b.WriteByte(s[i])
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

func descChar(c byte) bool {
	return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)
}

func quoteHeader(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			continue
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// writeMethodNotAllowed answers a wrong method on an own path.
func writeMethodNotAllowed(w http.ResponseWriter, allow string) {
	setNoStore(w.Header())
	w.Header().Set("Allow", allow)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMethodNotAllowed)
	_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"method not allowed"}` + "\n"))
}

// WriteUnavailable answers a request to one of the issuer's paths that
// cannot be served (the store did not open) in RFC 6749 §5.2 shape, with
// Cache-Control: no-store and Retry-After, like every other error of the
// token endpoint.
func WriteUnavailable(w http.ResponseWriter) {
	writeError(w, &oauthError{Status: http.StatusServiceUnavailable, Code: errTemporarilyUnavailable,
		Description: "the issuer is not available", RetryAfter: 5}, "")
}
