package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/authgate/caddy-authgate/token"
)

// ClaimRule requires the claim at Path to equal one of Values or, when the
// claim is an array, to contain one of them.
type ClaimRule struct {
	Path   string
	Values []string
}

// Rules are a route's authorization requirements, checked on every request.
type Rules struct {
	// Scopes must all be present.
	Scopes []string
	// ScopeAny: at least one must be present (when non-empty).
	ScopeAny []string
	// Claims must all match.
	Claims []ClaimRule
}

func (r *Rules) check(c *token.Claims) *Error {
	for _, s := range r.Scopes {
		if !c.HasScope(s) {
			return r.insufficient(c, fmt.Sprintf("scope %q is required", s))
		}
	}
	if len(r.ScopeAny) > 0 {
		ok := false
		for _, s := range r.ScopeAny {
			if c.HasScope(s) {
				ok = true
				break
			}
		}
		if !ok {
			return r.insufficient(c, "one of the scopes "+strings.Join(r.ScopeAny, " ")+" is required")
		}
	}
	for _, rule := range r.Claims {
		if !rule.matches(c) {
			e := r.insufficient(c, fmt.Sprintf("claim %q does not have a required value", rule.Path))
			e.Reason = ReasonClaimMismatch
			return e
		}
	}
	return nil
}

// insufficient builds the 403; the scope attribute lists what the route
// requires (RFC 6750 §3).
func (r *Rules) insufficient(c *token.Claims, desc string) *Error {
	scope := strings.Join(r.Scopes, " ")
	if len(r.ScopeAny) > 0 && scope == "" {
		scope = strings.Join(r.ScopeAny, " ")
	}
	return &Error{Status: http.StatusForbidden, Code: "insufficient_scope", Reason: ReasonInsufficientScope,
		Description: desc, Scope: scope, Subject: c.Subject, ClientID: c.ClientID}
}

func (rule *ClaimRule) matches(c *token.Claims) bool {
	v, ok := c.Claim(rule.Path)
	if !ok {
		return false
	}
	if arr, isArr := v.([]any); isArr {
		for _, el := range arr {
			if rule.matchesScalar(el) {
				return true
			}
		}
		return false
	}
	return rule.matchesScalar(v)
}

func (rule *ClaimRule) matchesScalar(v any) bool {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case bool:
		s = fmt.Sprint(x)
	default:
		return false
	}
	for _, want := range rule.Values {
		if s == want {
			return true
		}
	}
	return false
}
