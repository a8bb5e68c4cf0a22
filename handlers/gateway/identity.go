package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/authgate/caddy-authgate/token"
)

// HeaderMapping forwards the claim at Claim (a dotted path) as header Name.
type HeaderMapping struct {
	Name  string
	Claim string
}

// RenderClaim turns a claim into a header value: strings as they are,
// numbers as JSON numbers, booleans as true/false, arrays comma-joined,
// objects as compact JSON. It reports false for null.
func RenderClaim(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case []any:
		parts := make([]string, 0, len(x))
		for _, el := range x {
			if s, ok := RenderClaim(el); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ","), true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return strings.TrimSuffix(buf.String(), "\n"), true
}

// safeHeaderValue reports whether v can travel in an HTTP header without
// splitting it or being refused by the upstream client.
func safeHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// setIdentity sets the configured identity headers from the claims. Headers
// were already stripped; a claim that is absent leaves its header absent.
func setIdentity(h http.Header, mappings []HeaderMapping, c *token.Claims) *Error {
	for _, m := range mappings {
		s, ok := c.RegisteredString(m.Claim)
		if !ok {
			v, found := c.Claim(m.Claim)
			if !found {
				continue
			}
			if s, ok = RenderClaim(v); !ok {
				continue
			}
		}
		if !safeHeaderValue(s) {
			e := errInvalidToken(ReasonBadHeaderValue, "claim "+m.Claim+" cannot be forwarded: it contains control characters")
			e.Subject, e.ClientID = c.Subject, c.ClientID
			return e
		}
		h[m.Name] = []string{s}
	}
	return nil
}

// stripTrailers removes request trailers named like identity headers: the
// declaration now, and the values that net/http merges into r.Trailer when
// the body reaches EOF (which is when a proxy copies them upstream). Without
// declared trailers nothing can reach the upstream and nothing is wrapped.
func stripTrailers(r *http.Request, names []string) {
	if r.Trailer == nil || len(names) == 0 {
		return
	}
	for _, name := range names {
		delete(r.Trailer, name)
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &trailerStripper{ReadCloser: r.Body, trailer: r.Trailer, names: names}
	}
}

// trailerStripper deletes identity names from the trailer map when the body
// it wraps reports EOF, before any reader above it sees the EOF.
type trailerStripper struct {
	io.ReadCloser
	trailer http.Header
	names   []string
}

func (t *trailerStripper) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF {
		for _, name := range t.names {
			delete(t.trailer, name)
		}
	}
	return n, err
}
