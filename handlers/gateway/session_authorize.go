package gateway

import (
	"net/http"
	"net/netip"
	"strings"
)

// authorizeSession is Authorize for a request without a bearer token on a
// route with browser sign-in: the session's identity goes through the same
// rules and header mappings as a token's claims (identity headers were
// already stripped). The session cookie itself never goes upstream.
func (g *Gateway) authorizeSession(r *http.Request, client netip.Addr) (Decision, *Error) {
	l := g.cfg.Login
	st, newCookie, e := l.session(r, g.cfg.Now())
	if e != nil {
		if e.LoginRequired && g.cfg.Optional {
			return Decision{}, nil // anonymous, as without a token
		}
		return Decision{}, e
	}
	claims := st.claims
	if e := g.cfg.Rules.check(claims); e != nil {
		e.Session = true
		return Decision{}, e
	}
	if e := setIdentity(r.Header, g.cfg.Headers, claims); e != nil {
		return Decision{}, e
	}
	if l.cfg.PassAccessToken && st.bearer != "" {
		r.Header["Authorization"] = []string{st.bearer}
	}
	stripCookie(r, l.sessionCookieName(r))
	return Decision{Claims: claims, Session: true, SetCookie: newCookie}, nil
}

// stripCookie removes the cookie named name from the request's Cookie
// header(s).
func stripCookie(r *http.Request, name string) {
	lines := r.Header["Cookie"]
	for i, line := range lines {
		if !strings.Contains(line, name) {
			continue
		}
		var b strings.Builder
		for rest := line; rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, ";")
			p := strings.TrimSpace(part)
			if k, _, _ := strings.Cut(p, "="); k == name || p == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(p)
		}
		lines[i] = b.String()
	}
	out := lines[:0]
	for _, line := range lines {
		if line != "" {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		delete(r.Header, "Cookie")
	} else {
		r.Header["Cookie"] = out
	}
}
