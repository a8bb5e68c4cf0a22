package token

import (
	"errors"
	"strings"
)

// ReasonInactive: an introspection endpoint answered {"active": false}.
const ReasonInactive Reason = "inactive"

// MaxIntrospectionBytes bounds an introspection response body: real ones are
// a few hundred bytes; the bound keeps a hostile or broken endpoint from
// making the gateway buffer and scan megabytes per token.
const MaxIntrospectionBytes = 64 << 10

// ErrInactive is returned by ParseIntrospection for {"active": false}.
var ErrInactive = &Error{Reason: ReasonInactive, Description: "token is not active"}

// ParseIntrospection decodes an RFC 7662 §2.2 introspection response with
// the same strict walker as JWT claims: exactly one JSON object, no duplicate
// member names at any depth ("active" twice is the classic confusion), valid
// UTF-8, bounded depth and size. "active" must be present and a JSON boolean
// (a string "true" is refused). An inactive answer returns ErrInactive
// whatever else it says. An active one must carry "exp" (authgate's rule for
// every token: a lifetime the gateway can bound its cache by), must not be
// sender-constrained ("cnf": the gateway cannot check a remote token's
// binding, so it refuses rather than accept it as a bearer token), and its
// "token_type", when present, must name a bearer access token. The claims
// keep body as their raw payload (it must not be modified afterwards), so
// claim rules and header mapping read any member, as for a JWT.
func ParseIntrospection(body []byte) (*Claims, error) {
	if len(body) > MaxIntrospectionBytes {
		return nil, reject(ReasonOversized, "introspection response is too large")
	}
	var active, seenActive, bound bool
	tokenType := ""
	err := eachMember(body, func(name, value []byte) error {
		switch string(name) {
		case "active":
			seenActive = true
			switch string(value) {
			case "true":
				active = true
			case "false":
			default:
				return errType
			}
		case "cnf":
			bound = true
		case "token_type":
			s, err := stringClaim(value)
			if err != nil {
				return err
			}
			tokenType = s
		}
		return nil
	})
	if err != nil {
		return nil, reject(ReasonMalformed, "introspection response is not a valid JSON object (%v)", err)
	}
	if !seenActive {
		return nil, reject(ReasonMalformed, "introspection response has no boolean \"active\"")
	}
	if !active {
		return nil, ErrInactive
	}
	if bound {
		return nil, reject(ReasonType, "token is sender-constrained (cnf); the gateway cannot check its binding")
	}
	if tokenType != "" && !bearerTokenType(tokenType) {
		return nil, reject(ReasonType, "token is not a bearer access token (token_type)")
	}
	c, te := parseClaims(body)
	if te != nil {
		return nil, te
	}
	return c, nil
}

// bearerTokenType: RFC 6750's "Bearer" (oidc-provider, authgate), or the
// token-type URIs and names some servers return for access tokens.
func bearerTokenType(t string) bool {
	switch strings.ToLower(t) {
	case "bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token":
		return true
	}
	return false
}

// IsInactive reports whether err is an inactive-token answer.
func IsInactive(err error) bool {
	var te *Error
	return errors.As(err, &te) && te.Reason == ReasonInactive
}
