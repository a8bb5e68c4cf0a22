package token

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

// Claims are a verified token's claims: the registered ones decoded into typed
// fields, the rest kept as the raw JSON payload and decoded only when a rule,
// header or placeholder asks for a claim by path.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt int64 // seconds since the epoch; required
	NotBefore int64 // 0 when absent
	IssuedAt  int64 // 0 when absent
	JTI       string
	ClientID  string
	// Scopes merges "scope" (space-delimited) and "scp" (array or string).
	Scopes []string
	// AuthTime is "auth_time" (RFC 9068 §2.2.1: when the user signed in);
	// 0 when absent, as in tokens issued to clients for themselves.
	AuthTime int64

	// Alg is the algorithm that signed the token ("" for opaque tokens).
	Alg string
	// Typ is the JOSE header's "typ" ("" when absent, and for opaque tokens).
	Typ string
	// Key verified the signature; nil for opaque tokens.
	Key *Key

	payload []byte // the decoded JSON payload, source of the raw claims
	rawOnce sync.Once
	raw     map[string]any
	rawErr  error
}

// HasScope reports whether s is one of the token's scopes (exact match).
func (c *Claims) HasScope(s string) bool {
	for _, have := range c.Scopes {
		if have == s {
			return true
		}
	}
	return false
}

func parseClaims(payload []byte) (*Claims, *Error) {
	c := &Claims{payload: payload}
	var expSeen bool
	err := eachMember(payload, func(name, value []byte) error {
		var err error
		switch string(name) {
		case "iss":
			c.Issuer, err = stringClaim(value)
		case "sub":
			c.Subject, err = stringClaim(value)
		case "aud":
			c.Audience, err = stringOrArray(value)
		case "exp":
			expSeen = true
			c.ExpiresAt, err = numericDate(value)
		case "nbf":
			c.NotBefore, err = numericDate(value)
		case "iat":
			c.IssuedAt, err = numericDate(value)
		case "auth_time":
			c.AuthTime, err = numericDate(value)
		case "jti":
			c.JTI, err = stringClaim(value)
		case "client_id":
			c.ClientID, err = stringClaim(value)
		case "scope":
			var s string
			if s, err = stringClaim(value); err == nil {
				c.Scopes = appendScopes(c.Scopes, s)
			}
		case "scp":
			var list []string
			if list, err = stringOrArray(value); err == nil {
				for _, s := range list {
					c.Scopes = appendScopes(c.Scopes, s)
				}
			}
		}
		if err != nil {
			return reject(ReasonClaims, "claim %q has the wrong type", name)
		}
		return nil
	})
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, e
		}
		return nil, reject(ReasonMalformed, "claims are not a valid JSON object (%v)", err)
	}
	if !expSeen {
		return nil, reject(ReasonClaims, "token has no exp claim")
	}
	c.Scopes = dedupScopes(c.Scopes)
	return c, nil
}

// stringClaim decodes a string claim as a view of the payload (unquoteRef).
func stringClaim(raw []byte) (string, error) {
	if raw[0] != '"' {
		return "", errType
	}
	return unquoteRef(raw)
}

// appendScopes adds the space-delimited scopes of list (RFC 6749 §3.3) to
// dst, growing dst at most once per call. Duplicates are removed by dedupScopes,
// once, when every scope is in.
func appendScopes(dst []string, list string) []string {
	dst = slices.Grow(dst, strings.Count(list, " ")+1) // amortized: an scp array calls this per entry
	for s := range strings.FieldsSeq(list) {
		dst = append(dst, s)
	}
	return dst
}

// smallScopeSet is the size up to which duplicates are found by comparing
// pairs (no allocation); beyond it a set makes the work linear.
const smallScopeSet = 16

// dedupScopes removes repeated scopes in place, keeping first occurrences
// in order, in time linear in the number of scopes.
func dedupScopes(scopes []string) []string {
	out := scopes[:0]
	if len(scopes) <= smallScopeSet {
		for _, s := range scopes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	seen := make(map[string]struct{}, len(scopes))
	for _, s := range scopes {
		if _, dup := seen[s]; !dup {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

// Raw returns every claim decoded (numbers as json.Number), decoding the
// payload on first use only. The map must not be modified. Claims built by
// an issuer for opaque tokens have no payload: Raw then holds the registered
// claims.
func (c *Claims) Raw() (map[string]any, error) {
	c.rawOnce.Do(func() {
		if c.payload == nil {
			c.raw = c.registered()
			return
		}
		dec := json.NewDecoder(bytes.NewReader(c.payload))
		dec.UseNumber()
		c.rawErr = dec.Decode(&c.raw)
	})
	return c.raw, c.rawErr
}

func (c *Claims) registered() map[string]any {
	m := map[string]any{"exp": json.Number(itoa(c.ExpiresAt))}
	setString := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	setString("iss", c.Issuer)
	setString("sub", c.Subject)
	setString("jti", c.JTI)
	setString("client_id", c.ClientID)
	if len(c.Scopes) > 0 {
		m["scope"] = strings.Join(c.Scopes, " ")
	}
	if len(c.Audience) > 0 {
		aud := make([]any, len(c.Audience))
		for i, a := range c.Audience {
			aud[i] = a
		}
		m["aud"] = aud
	}
	if c.IssuedAt != 0 {
		m["iat"] = json.Number(itoa(c.IssuedAt))
	}
	if c.NotBefore != 0 {
		m["nbf"] = json.Number(itoa(c.NotBefore))
	}
	if c.AuthTime != 0 {
		m["auth_time"] = json.Number(itoa(c.AuthTime))
	}
	return m
}

// Claim returns the claim at a dotted path ("realm_access.roles").
//
// A dot means nesting wherever the token has an object by that name: at
// each level the path is split at its first dot whose prefix names an
// object, and the rest is looked up inside it only. A member whose own name
// contains dots ("https://example.com/roles", Auth0's namespaced claims) is
// found only when no object along the way takes the path. So a flat
// "realm_access.roles" member can never shadow realm_access → roles: nested
// wins, and the lookup is one pass over the path with no backtracking.
func (c *Claims) Claim(path string) (any, bool) {
	if s, ok := c.RegisteredString(path); ok {
		return s, true
	}
	raw, err := c.Raw()
	if err != nil {
		return nil, false
	}
	return lookupPath(raw, path)
}

// RegisteredString returns sub, iss, client_id or jti from the typed
// fields, so forwarding them never pays for decoding the whole payload nor
// allocates. It reports false for any other path or an empty value.
func (c *Claims) RegisteredString(path string) (string, bool) {
	var s string
	switch path {
	case "sub":
		s = c.Subject
	case "iss":
		s = c.Issuer
	case "client_id":
		s = c.ClientID
	case "jti":
		s = c.JTI
	}
	return s, s != ""
}

func lookupPath(obj map[string]any, path string) (any, bool) {
	for {
		descended := false
		for i := 0; i < len(path); i++ {
			if path[i] != '.' {
				continue
			}
			if inner, ok := obj[path[:i]].(map[string]any); ok {
				obj, path = inner, path[i+1:]
				descended = true
				break
			}
		}
		if !descended {
			v, ok := obj[path]
			return v, ok
		}
	}
}

func itoa(n int64) string {
	var buf [20]byte
	i := len(buf)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
