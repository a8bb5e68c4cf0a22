package token

import "fmt"

// Reason classifies why a token was refused. It is a short, stable string used
// in logs, metrics labels and (with Error.Description) the WWW-Authenticate
// error_description.
type Reason string

// Rejection reasons.
const (
	ReasonMalformed       Reason = "malformed"
	ReasonOversized       Reason = "oversized"
	ReasonHeader          Reason = "forbidden_header"
	ReasonAlgorithm       Reason = "algorithm"
	ReasonUnknownKey      Reason = "unknown_key"
	ReasonSignature       Reason = "signature"
	ReasonExpired         Reason = "expired"
	ReasonNotYetValid     Reason = "not_yet_valid"
	ReasonIssuer          Reason = "issuer"
	ReasonAudience        Reason = "audience"
	ReasonClaims          Reason = "claims"
	ReasonKeysUnavailable Reason = "keys_unavailable"
	ReasonRevoked         Reason = "revoked"
	ReasonType            Reason = "token_type"
)

// Error is a token rejection. Description is safe to show a client: it never
// contains the token.
type Error struct {
	Reason      Reason
	Description string
	// Err is the underlying cause, if any (e.g. a key source's error).
	Err error
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Description }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func reject(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Description: fmt.Sprintf(format, args...)}
}
