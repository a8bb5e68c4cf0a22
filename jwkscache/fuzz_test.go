package jwkscache

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseMetadata feeds arbitrary discovery documents and issuers to
// parseMetadata. It must never panic, and whatever it accepts must be the
// document's jwks_uri for exactly the configured issuer, an absolute http(s)
// URL with a host that a fetch accepts (CheckURL), and plain http only for a
// loopback host or an http issuer.
func FuzzParseMetadata(f *testing.F) {
	seed := func(issuer, jwks string) {
		b, _ := json.Marshal(map[string]any{"issuer": issuer, "jwks_uri": jwks})
		f.Add(b, issuer)
	}
	seed("https://idp.example", "https://idp.example/jwks")
	seed("https://idp.example/realms/main", "https://idp.example/realms/main/protocol/openid-connect/certs")
	seed("https://idp.example", "http://keys.example/jwks")
	seed("https://idp.example", "http://127.0.0.1:8080/jwks")
	seed("https://idp.example", "http://[::1]/jwks")
	seed("https://idp.example", "http://localhost/jwks")
	seed("http://idp.internal", "http://keys.internal/jwks")
	seed("https://idp.example", "https://keys.example/jwks#frag")
	seed("https://idp.example", "https://:443/jwks")
	seed("https://idp.example", "//keys.example/jwks")
	seed("https://idp.example", "/jwks")
	seed("https://idp.example", "ftp://keys.example/jwks")
	seed("https://idp.example", "HTTPS://KEYS.EXAMPLE/jwks")
	seed("https://idp.example", "https://user:pass@keys.example/jwks")
	seed("https://idp.example", "https://keys.example:99999/jwks")
	seed("", "")
	f.Add([]byte(`{"issuer":"https://a","jwks_uri":"https://b","issuer":"https://c"}`), "https://c")
	f.Add([]byte(`{"issuer":null,"jwks_uri":null}`), "")
	f.Add([]byte(`{"issuer":1}`), "https://a")
	f.Add([]byte(`[]`), "https://a")
	f.Add([]byte(`null`), "")
	f.Add([]byte("\xef\xbb\xbf{}"), "")
	f.Add([]byte(`{"issuer":"https://a/","jwks_uri":"https://a/k"}`), "https://a")
	f.Add([]byte(`{"issuer":"https://a","jwks_uri":"https://a/\u0000k"}`), "https://a")
	f.Add([]byte(`<html>login</html>`), "https://a")

	f.Fuzz(func(t *testing.T, body []byte, issuer string) {
		uri, err := parseMetadata(body, issuer)
		if err != nil {
			if uri != "" {
				t.Fatalf("error %v with non-empty jwks_uri %q", err, uri)
			}
			return
		}
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %v", err)
		}
		if doc.Issuer != issuer {
			t.Fatalf("accepted metadata for issuer %q, configured %q", doc.Issuer, issuer)
		}
		if uri != doc.JWKSURI {
			t.Fatalf("returned %q, document says %q", uri, doc.JWKSURI)
		}
		u, perr := url.Parse(uri)
		if perr != nil {
			t.Fatalf("accepted unparsable jwks_uri %q: %v", uri, perr)
		}
		if !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
			t.Fatalf("accepted jwks_uri %q that is not an absolute http(s) URL with a host", uri)
		}
		if err := CheckURL(uri); err != nil {
			t.Fatalf("accepted jwks_uri %q that every fetch refuses: %v", uri, err)
		}
		if u.Scheme == "http" && !isLoopback(u.Hostname()) && !strings.HasPrefix(strings.ToLower(issuer), "http://") {
			t.Fatalf("accepted plain-http jwks_uri %q for issuer %q", uri, issuer)
		}
	})
}
