package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// require_typ (RFC 9068) through a real Caddy: a route with it accepts only
// at+jwt tokens; a route without it accepts "JWT" and untyped tokens but
// still refuses a JWT typed as something else (here a logout token). A
// gateway without `audience` logs a warning at provision (RFC 8725 §3.9);
// one with an audience does not.
func TestRequireTyp(t *testing.T) {
	useInProcessCaddy(t)
	const port = 9323
	k := jwNewKey(t, "typ-1")
	idp := jwNewProvider(t, 3600, k)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	jwStart(t, fmt.Sprintf(`{
	skip_install_trust
	admin localhost:2999
	http_port %[1]d
	auto_https off
	log {
		output file %[2]s
		format json
		level INFO
	}
}
http://127.0.0.1:%[1]d {
	handle /strict/* {
		authgate {
			issuer %[3]s
			audience %[4]s
			jwks %[5]s
			require_typ
			header X-User sub
		}
		respond "strict {http.request.header.X-User}" 200
	}
	handle /relaxed/* {
		authgate {
			issuer %[3]s
			jwks %[5]s
			header X-User sub
		}
		respond "relaxed {http.request.header.X-User}" 200
	}
}
`, port, logFile, jwIssuer, jwAudience, idp.JWKSURL()))
	c := jwClient()
	url := func(route string) string { return fmt.Sprintf("http://127.0.0.1:%d/%s/x", port, route) }

	for _, tc := range []struct {
		typ             string
		strict, relaxed bool // accepted by each route
	}{
		{"at+jwt", true, true},
		{"application/at+jwt", true, true},
		{"JWT", false, true},
		{"", false, true},
		{"logout+jwt", false, false},
	} {
		for route, want := range map[string]bool{"strict": tc.strict, "relaxed": tc.relaxed} {
			sub := "u-" + jwRandHex(4)
			r := jwMustGet(t, c, url(route), typToken(t, k, tc.typ, sub))
			if want {
				jwWantOK(t, r, route, sub)
			} else {
				jwWantInvalidToken(t, r, fmt.Sprintf("typ %q on /%s/", tc.typ, route))
			}
		}
	}

	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var warnings int
	for line := range strings.Lines(string(log)) {
		var e struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Level == "warn" && strings.Contains(e.Msg, "no audience configured") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Fatalf("%d no-audience warnings, want 1 (the /relaxed/ gateway only); log:\n%s", warnings, log)
	}
}

// typToken is a valid ES256 token for sub with header typ ("" for none).
func typToken(t *testing.T, key *jwKey, typ, sub string) string {
	t.Helper()
	h := map[string]string{"alg": "ES256", "kid": key.kid}
	if typ != "" {
		h["typ"] = typ
	}
	return testutil.MustSignJWT(t, key.priv, h, jwClaims(jwIssuer, sub))
}
