package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// Values that look like the configured scheme but are malformed are refused
// with 400 in required and optional mode alike, never read as "no token";
// values of another scheme stay "no token" (anonymous in optional mode, and
// forwarded untouched).
func TestMalformedCredentials(t *testing.T) {
	s, set := ecFixture(t)
	valid := s.sign(t, baseClaims(nil))
	malformed := map[string][]string{
		"tab separator":         {"Bearer\t" + valid},
		"comma separator":       {"Bearer," + valid},
		"bare scheme":           {"Bearer"},
		"scheme and spaces":     {"bearer   "},
		"equals separator":      {"Bearer=" + valid},
		"two tokens in one":     {"Bearer " + valid + ", Bearer " + valid},
		"space inside token":    {"Bearer ab cd"},
		"quoted token":          {`Bearer "` + valid + `"`},
		"auth-param syntax":     {`Bearer token="x"`},
		"control character":     {"Bearer abc\x01def"},
		"bearer and basic":      {"Basic YTpi", "Bearer " + valid},
		"two basic values":      {"Basic YTpi", "Basic YTpj"},
		"valid and malformed":   {"Bearer " + valid, "Bearer\tforged"},
		"two valid":             {"Bearer " + valid, "Bearer " + valid},
		"padding in the middle": {"Bearer ab=cd"},
		"dpop tab separator":    {"DPoP\t" + valid},
		"bare dpop scheme":      {"dpop"},
		"dpop and bearer":       {"DPoP " + valid, "Bearer " + valid},
	}
	for name, vals := range malformed {
		for _, optional := range []bool{false, true} {
			g := newGateway(t, set, func(c *Config) { c.Optional = optional })
			r := request("")
			r.Header["Authorization"] = vals
			d, e := g.Authorize(r, loopback)
			if e == nil || e.Status != http.StatusBadRequest || e.Code != "invalid_request" {
				t.Errorf("%s (optional=%v): got %v claims=%v, want 400 invalid_request", name, optional, e, d.Claims != nil)
			}
		}
	}
	for name, v := range map[string]string{"basic": "Basic YTpi", "longer scheme name": "Bearerish " + valid, "dpop (off)": "DPoP " + valid, "DPoPish": "DPoPx " + valid} {
		g := newGateway(t, set, func(c *Config) { c.Optional = true; c.DPoP.Mode = DPoPOff })
		r := request("")
		r.Header.Set("Authorization", v)
		d, e := g.Authorize(r, loopback)
		if e != nil || d.Claims != nil || r.Header.Get("Authorization") != v {
			t.Errorf("%s in optional mode: %v claims=%v", name, e, d.Claims != nil)
		}
		g = newGateway(t, set, func(c *Config) { c.DPoP.Mode = DPoPOff })
		if _, e := g.Authorize(r, loopback); e == nil || e.Reason != ReasonNoToken {
			t.Errorf("%s in required mode: %v, want no_token", name, e)
		}
	}
	// Several spaces after the scheme are allowed (RFC 9110 §11.4: 1*SP).
	g := newGateway(t, set, nil)
	r := request("")
	r.Header.Set("Authorization", "Bearer   "+valid)
	if _, e := g.Authorize(r, loopback); e != nil {
		t.Errorf("1*SP: %v", e)
	}
}

func TestMalformedOtherSources(t *testing.T) {
	s, set := ecFixture(t)
	valid := s.sign(t, baseClaims(nil))
	cases := []struct {
		src TokenSource
		set func(r *http.Request)
	}{
		{TokenSource{Kind: "header", Name: "X-Api-Token"}, func(r *http.Request) { r.Header.Set("X-Api-Token", "a b") }},
		{TokenSource{Kind: "header", Name: "X-Api-Token"}, func(r *http.Request) { r.Header.Set("X-Api-Token", "") }},
		{TokenSource{Kind: "query", Name: "access_token"}, func(r *http.Request) { r.URL.RawQuery = "access_token=%zz" }},
		{TokenSource{Kind: "query", Name: "access_token"}, func(r *http.Request) { r.URL.RawQuery = "access_token=a%20b" }},
		{TokenSource{Kind: "cookie", Name: "at"}, func(r *http.Request) { r.Header.Set("Cookie", `at=a"b`) }},
		{TokenSource{Kind: "cookie", Name: "at"}, func(r *http.Request) { r.Header.Set("Cookie", "at="+valid+"; at="+valid) }},
	}
	for i, tc := range cases {
		g := newGateway(t, set, func(c *Config) { c.Optional = true; c.Sources = []TokenSource{tc.src} })
		r := request("")
		tc.set(r)
		if _, e := g.Authorize(r, loopback); e == nil || e.Status != 400 {
			t.Errorf("case %d (%s %s): %v, want 400", i, tc.src.Kind, tc.src.Name, e)
		}
	}
	g := newGateway(t, set, func(c *Config) { c.Sources = []TokenSource{{Kind: "cookie", Name: "at"}} })
	r := request("")
	r.Header.Set("Cookie", `other=1; at="`+valid+`"`)
	if _, e := g.Authorize(r, loopback); e != nil {
		t.Errorf("quoted cookie: %v", e)
	}
}

// FuzzExtract feeds arbitrary Authorization values, query strings and
// cookies to the extraction. Invariants: no panic; errors are
// invalid_request; a token found is non-empty (its characters are checked on
// a cache miss, see TestMalformedCredentials); a value that starts with the
// scheme name followed by a non-token character, or a second Authorization
// value, is never "no token"; an accepted header value is exactly the
// scheme, spaces and the token.
func FuzzExtract(f *testing.F) {
	for _, seed := range []string{"Bearer abc", "Bearer\tabc", "Bearer,abc", "Bearer", "bearer  a.b.c", "Basic YTpi", "Bearerx y", "Bearer a b", "Bearer ab==", "Bearer =="} {
		f.Add(seed, "", "access_token=abc", "at=abc")
	}
	f.Add("Bearer a", "Bearer b", "access_token=%zz&access_token=x", `at="x"; at=y`)
	for _, seed := range []string{"DPoP abc", "DPoP\tabc", "dpop", "DPoPx y", "DPoP  a.b.c", "DPoP a b"} {
		f.Add(seed, "", "", "")
	}
	// The last source takes Bearer and DPoP (DPoP not off): both schemes
	// with the same strictness.
	sources := []TokenSource{DefaultTokenSources[0], {Kind: "query", Name: "access_token"}, {Kind: "cookie", Name: "at"}, {Kind: "header", Name: "X-Tok"},
		{Kind: "header", Name: "Authorization", Scheme: "Bearer", dpop: true}}
	const dpopSource = 4
	f.Fuzz(func(t *testing.T, auth, auth2, query, cookie string) {
		for i := range sources {
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.URL.RawQuery = query
			if auth != "" {
				r.Header["Authorization"] = []string{auth}
				r.Header["X-Tok"] = []string{auth}
			}
			if auth2 != "" {
				r.Header["Authorization"] = append(r.Header["Authorization"], auth2)
			}
			if cookie != "" {
				r.Header.Set("Cookie", cookie)
			}
			f, e := extract(r, sources[i:i+1])
			if e != nil {
				if e.Status != http.StatusBadRequest || e.Code != "invalid_request" {
					t.Fatalf("error %v is not invalid_request", e)
				}
				continue
			}
			if f.src == nil {
				if (i == 0 || i == dpopSource) && auth != "" && (auth2 != "" || looksLikeBearer(auth)) {
					t.Fatalf("Authorization %q (second %q) read as no token", auth, auth2)
				}
				if i == dpopSource && auth != "" && looksLikeScheme(auth, "DPoP") {
					t.Fatalf("Authorization %q read as no token by a DPoP source", auth)
				}
				continue
			}
			if f.token == "" {
				t.Fatal("empty token found")
			}
			if i == 0 && (f.dpop || !strings.EqualFold(auth[:6], "bearer") || strings.TrimLeft(auth[6:], " ") != f.token) {
				t.Fatalf("Authorization %q gave token %q", auth, f.token)
			}
			if i == dpopSource {
				scheme := "Bearer"
				if f.dpop {
					scheme = "DPoP"
				}
				if !looksLikeScheme(auth, scheme) || strings.TrimLeft(auth[len(scheme):], " ") != f.token {
					t.Fatalf("Authorization %q gave token %q (dpop=%v)", auth, f.token, f.dpop)
				}
			}
		}
	})
}

func looksLikeBearer(v string) bool { return looksLikeScheme(v, "Bearer") }

func looksLikeScheme(v, scheme string) bool {
	n := len(scheme)
	return len(v) >= n && strings.EqualFold(v[:n], scheme) && (len(v) == n || !isTchar(v[n]))
}

// Parsers differ on where a query parameter or a cookie starts: many split
// a query on ';' as well as '&' (older Python, Rack), and RFC 6265 §5.2 trims
// white space around a cookie name. A value that such an upstream reads as
// the token source must not pass as "no token" in optional mode (and reach
// the upstream, which may decode it): the gateway reads it as the source
// too, so a forged one is refused.
func TestSourceParserDifferentials(t *testing.T) {
	s, set := ecFixture(t)
	valid := s.sign(t, baseClaims(nil))
	query := TokenSource{Kind: "query", Name: "access_token"}
	cookie := TokenSource{Kind: "cookie", Name: "at"}
	cases := []struct {
		name string
		src  TokenSource
		set  func(r *http.Request, tok string)
	}{
		{"query after ';'", query, func(r *http.Request, tok string) { r.URL.RawQuery = "a=1;access_token=" + tok }},
		{"cookie name with spaces", cookie, func(r *http.Request, tok string) { r.Header.Set("Cookie", "x=1;  at ="+tok) }},
		{"cookie value with a leading space", cookie, func(r *http.Request, tok string) { r.Header.Set("Cookie", "at= "+tok) }},
	}
	for _, tc := range cases {
		g := newGateway(t, set, func(c *Config) { c.Optional = true; c.Sources = []TokenSource{tc.src} })
		r := request("")
		tc.set(r, "forged")
		if d, e := g.Authorize(r, loopback); e == nil {
			t.Errorf("%s: forged token passed (claims=%v), want refused", tc.name, d.Claims != nil)
		}
		r = request("")
		tc.set(r, valid)
		if d, e := g.Authorize(r, loopback); e == nil && d.Claims == nil {
			t.Errorf("%s: a valid token was read as no token", tc.name)
		}
	}
}
