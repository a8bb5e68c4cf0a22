package issuer

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/authgate/caddy-authgate/token"
)

// tokenResponse is the RFC 6749 §5.1 answer of the token endpoint (with RFC
// 8693 §2.2.1's issued_token_type). The refresh_token and id_token members
// come with the grants that issue them (see mint).
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	IDToken         string `json:"id_token,omitempty"`
}

// introspectionResponse is the RFC 7662 §2.2 answer; an inactive token is
// {"active":false} and nothing else.
type introspectionResponse struct {
	Active bool `json:"active"`
	*activeToken
}

// activeToken is what introspection tells about an active token.
type activeToken struct {
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud,omitempty"`
	Issuer    string   `json:"iss"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	JTI       string   `json:"jti"`
	TokenType string   `json:"token_type"`
	// Cnf is the token's binding (RFC 8705 §3.2, RFC 9449 §6.2).
	Cnf *token.Confirmation `json:"cnf,omitempty"`
	// Username is the signed-in user of a user's token.
	Username string `json:"username,omitempty"`
}

// errorResponse is the RFC 6749 §5.2 error answer.
type errorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// audience is "aud": a string when it has one member, else an array.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// spaceJoined is a scope parameter value (RFC 6749 §3.3).
func spaceJoined(scopes []string) string { return strings.Join(scopes, " ") }

// writeJSON answers status with v encoded (newline-terminated) and the RFC
// 6749 §5.1 no-store headers; every answer of the token, introspection and
// revocation endpoints goes through it.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b []byte
	var err error
	if tr, ok := v.(*tokenResponse); ok {
		// The token answer, on every token request, is appended by hand
		// (json_append.go), with room for the newline.
		n := 96 + len(tr.AccessToken) + len(tr.Scope) + len(tr.IssuedTokenType) + len(tr.RefreshToken) + len(tr.IDToken)
		b = appendTokenResponse(make([]byte, 0, n), tr)
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		// Only a programming error gets here (the types above always
		// encode).
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	setNoStore(h)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
