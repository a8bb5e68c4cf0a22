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
}

// extract finds the request's token. More than one token, whether in one
// source or several, is invalid_request (RFC 6750 §2).
func extract(r *http.Request, sources []TokenSource) (found, *Error) {
	var f found
	for i := range sources {
		src := &sources[i]
		tok, n := lookupSource(r, src)
		if n == 0 {
			continue
		}
		if n > 1 || f.src != nil {
			return found{}, errInvalidRequest(ReasonMultipleTokens, "the request presents more than one token")
		}
		f = found{src: src, token: tok}
	}
	return f, nil
}

// lookupSource returns the token in one source and how many it found.
func lookupSource(r *http.Request, src *TokenSource) (string, int) {
	switch src.Kind {
	case "header":
		var tok string
		n := 0
		for _, v := range r.Header[src.Name] {
			t, ok := withScheme(v, src.Scheme)
			if !ok {
				continue
			}
			tok = t
			n++
		}
		return tok, n
	case "query":
		return lookupQuery(r.URL.RawQuery, src.Name)
	case "cookie":
		var tok string
		n := 0
		for _, c := range r.CookiesNamed(src.Name) {
			tok = c.Value
			n++
		}
		return tok, n
	}
	return "", 0
}

// withScheme strips "<scheme> " (case-insensitive) from a header value.
func withScheme(v, scheme string) (string, bool) {
	if scheme == "" {
		v = strings.TrimSpace(v)
		return v, v != ""
	}
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) || v[len(scheme)] != ' ' {
		return "", false
	}
	return strings.TrimSpace(v[len(scheme)+1:]), true
}

// lookupQuery scans the raw query without building a url.Values map.
func lookupQuery(raw, name string) (string, int) {
	var tok string
	n := 0
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != name {
			if uk, err := url.QueryUnescape(k); err != nil || uk != name {
				continue
			}
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			uv = v
		}
		tok = uv
		n++
	}
	return tok, n
}

// strip removes the token from the request before it goes upstream.
func (f found) strip(r *http.Request) {
	switch f.src.Kind {
	case "header":
		r.Header.Del(f.src.Name)
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
