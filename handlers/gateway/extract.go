package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// TokenSource says where a request carries its token.
type TokenSource struct {
	// Kind is "header", "query" or "cookie".
	Kind string
	// Name of the header, query parameter or cookie.
	Name string
	// Scheme, for headers: the auth scheme before the token ("Bearer"),
	// matched case-insensitively; empty means the whole value is the token.
	Scheme string

	// dpop: a Bearer header source also takes the DPoP scheme (RFC 9449
	// §7.1), set by New unless DPoP is off.
	dpop bool
}

// DefaultTokenSources is `Authorization: Bearer <token>`.
var DefaultTokenSources = []TokenSource{{Kind: "header", Name: "Authorization", Scheme: "Bearer"}}

// Validate checks a source's fields.
func (s TokenSource) Validate() error {
	switch s.Kind {
	case "header", "query", "cookie":
	default:
		return fmt.Errorf("token source kind %q: want header, query or cookie", s.Kind)
	}
	if s.Name == "" {
		return fmt.Errorf("token source %s needs a name", s.Kind)
	}
	if s.Scheme != "" && s.Kind != "header" {
		return fmt.Errorf("token source %s %s: only headers have a scheme", s.Kind, s.Name)
	}
	return nil
}

// found is where a token was taken from, for strip_token.
type found struct {
	src   *TokenSource
	token string
	// dpop: the token came with the DPoP scheme; its proof is checked by
	// the binding step (binding_dpop.go).
	dpop bool
}

// extract finds the request's token. More than one token, whether in one
// source or several, and a value that is meant for a source but malformed,
// are invalid_request (RFC 6750 §2, §3.1): never "no token", so a forged
// value cannot pass anonymously in optional mode and reach the upstream.
func extract(r *http.Request, sources []TokenSource) (found, *Error) {
	var f found
	for i := range sources {
		src := &sources[i]
		tok, n, bad, dpop := lookupSource(r, src)
		if bad != "" {
			return found{}, errInvalidRequest(ReasonMalformed, bad)
		}
		if n == 0 {
			continue
		}
		if n > 1 || f.src != nil {
			return found{}, errInvalidRequest(ReasonMultipleTokens, "the request presents more than one token")
		}
		f = found{src: src, token: tok, dpop: dpop}
	}
	return f, nil
}

// lookupSource returns the token in one source, how many it found, why a
// value meant for this source is malformed ("" when none is), and whether
// the token came with the DPoP scheme.
func lookupSource(r *http.Request, src *TokenSource) (string, int, string, bool) {
	switch src.Kind {
	case "header":
		vals := r.Header[src.Name]
		if len(vals) > 1 {
			// Credentials headers are not lists (RFC 9110 §11.6.2): two
			// values, whatever their schemes, are two credentials.
			return "", len(vals), "", false
		}
		if len(vals) == 0 {
			return "", 0, "", false
		}
		scheme := src.Scheme
		tok, ours, ok := withScheme(vals[0], scheme)
		dpop := false
		if !ours && src.dpop {
			// The same strictness for the second scheme of the source.
			scheme = schemeDPoP
			tok, ours, ok = withScheme(vals[0], scheme)
			dpop = true
		}
		switch {
		case !ours:
			return "", 0, "", false // another scheme (Basic, DPoP when off, ...): not a token of ours
		case !ok:
			return "", 0, "header " + src.Name + " is not a well-formed " + schemeName(scheme) + " credential", false
		}
		return tok, 1, "", dpop
	case "query":
		tok, n, bad := lookupQuery(r.URL.RawQuery, src.Name)
		return tok, n, bad, false
	case "cookie":
		tok, n, bad := lookupCookie(r.Header["Cookie"], src.Name)
		return tok, n, bad, false
	}
	return "", 0, "", false
}

func schemeName(s string) string {
	if s == "" {
		return "token"
	}
	return s
}

// withScheme parses one header value against scheme. ours reports that the
// value is meant for this source: it starts with the scheme name followed by
// anything that cannot continue an auth-scheme token (a space, a tab, a
// comma, the end of the value, ...), so "Bearer<TAB>x", "Bearer,x" and a bare
// "Bearer" are ours, while "Basic x" and "Bearerx y" are not. ok reports a
// well-formed credential: exactly the scheme, one or more spaces (RFC 9110
// §11.4) and a non-empty token. With no scheme, every value is ours and must
// be non-empty. The token's characters are checked (validToken) on a cache
// miss only: a cache hit is a byte-exact copy of a token that passed.
func withScheme(v, scheme string) (tok string, ours, ok bool) {
	if scheme == "" {
		return v, true, v != ""
	}
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false, false
	}
	rest := v[len(scheme):]
	if rest != "" && isTchar(rest[0]) {
		return "", false, false
	}
	tok = strings.TrimLeft(rest, " ")
	if len(tok) == len(rest) || tok == "" {
		return "", true, false
	}
	return tok, true, true
}

// validToken reports whether s is a b64token (RFC 6750 §2.1):
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func validToken(s string) bool {
	i := 0
	for i < len(s) && b64tokenChars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

var b64tokenChars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// isTchar reports an RFC 9110 token character (auth-scheme names are tokens).
func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// lookupQuery scans the raw query without building a url.Values map. A
// parameter named like the source whose value does not unescape, or is
// empty, is malformed. Pairs are split at ';' as well as '&': net/http drops
// a pair with ';', but many upstream parsers split there, and would find a
// token the gateway never saw.
func lookupQuery(raw, name string) (string, int, string) {
	var tok string
	n := 0
	for raw != "" {
		pair := raw
		if i := strings.IndexAny(raw, "&;"); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			raw = ""
		}
		k, v, _ := strings.Cut(pair, "=")
		if k != name {
			if uk, err := url.QueryUnescape(k); err != nil || uk != name {
				continue
			}
		}
		uv, err := url.QueryUnescape(v)
		if err != nil || uv == "" {
			return "", 0, "query parameter " + name + " is not a well-formed token"
		}
		tok = uv
		n++
	}
	return tok, n, ""
}

// lookupCookie scans the Cookie headers itself: net/http's parser silently
// drops cookies with invalid values, which would turn a malformed token into
// "no token".
func lookupCookie(headers []string, name string) (string, int, string) {
	var tok string
	n := 0
	for _, line := range headers {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			// RFC 6265 §5.2 trims white space around the name: "at =x"
			// is cookie "at" to many parsers, so it is to this one.
			if strings.TrimSpace(k) != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if v == "" {
				return "", 0, "cookie " + name + " is not a well-formed token"
			}
			tok = v
			n++
		}
	}
	return tok, n, ""
}

// strip removes the token from the request before it goes upstream.
func (f found) strip(r *http.Request) {
	switch f.src.Kind {
	case "header":
		r.Header.Del(f.src.Name)
		if f.dpop {
			r.Header.Del("Dpop") // the proof goes with its token
		}
	case "query":
		q := r.URL.Query()
		q.Del(f.src.Name)
		r.URL.RawQuery = q.Encode()
		r.RequestURI = r.URL.RequestURI()
	case "cookie":
		cookies := r.Cookies()
		r.Header.Del("Cookie")
		for _, c := range cookies {
			if c.Name != f.src.Name {
				r.AddCookie(c)
			}
		}
	}
}
