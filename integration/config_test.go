package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// readmeHandleErrors returns the handle_errors snippet of README's Errors
// section, exactly as written there.
func readmeHandleErrors(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i := strings.Index(text, "\n### Errors\n")
	if i < 0 {
		t.Fatal("README has no Errors section")
	}
	m := regexp.MustCompile("(?s)```caddyfile\n(handle_errors \\{.*?\n\\})\n```").FindStringSubmatch(text[i:])
	if m == nil {
		t.Fatal("no handle_errors example in README's Errors section")
	}
	return m[1]
}

// TestReadmeHandleErrorsIsValidJSON runs README's handle_errors example in a
// real Caddy and checks that every refusal, including ones caused by tokens
// whose header fields are full of quotes and backslashes, answers a body
// that parses as JSON and carries the refusal's status.
func TestReadmeHandleErrorsIsValidJSON(t *testing.T) {
	useInProcessCaddy(t)
	signer := gwNewSigner(t)
	snippet := readmeHandleErrors(t)
	tester := caddytest.NewTester(t)
	tester.InitServer(fmt.Sprintf(`{
	admin localhost:2999
	skip_install_trust
	http_port 9460
	https_port 9461
}
http://localhost:9460 {
	authgate {
		key %s
		issuer https://idp.test
		scope admin
		header X-User sub
	}
	respond "ok"
%s
}
`, signer.pemPath, indent(snippet)), "caddyfile")

	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	hostile := []string{
		b64(`{"alg":"RS256\"}],\"x\":\"\\","kid":"\"\\u0000<"}`) + "." + b64(`{"iss":"https://idp.test"}`) + ".c2ln",
		b64(`{"alg":"\"\"\"","typ":"JWT"}`) + "." + b64(`{}`) + ".",
		`"quoted",token`,
		signer.token(t, map[string]any{"sub": `"}`}), // valid signature, missing scope: 403
		signer.token(t, map[string]any{"iss": `https://idp.test"}`}),
	}
	cases := []map[string][]string{{}} // no token
	for _, tok := range hostile {
		cases = append(cases, map[string][]string{"Authorization": {"Bearer " + tok}})
	}
	cases = append(cases, map[string][]string{"Authorization": {"Bearer a.b.c", "Bearer d.e.f"}})
	for i, h := range cases {
		resp, body := gwDo(t, tester, http.MethodGet, "http://localhost:9460/", h)
		if resp.StatusCode < 400 {
			t.Errorf("case %d: status %d, want a refusal", i, resp.StatusCode)
			continue
		}
		var doc map[string]string
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Errorf("case %d (%d): body is not valid JSON: %v\n%s", i, resp.StatusCode, err, body)
			continue
		}
		if doc["status"] != fmt.Sprint(resp.StatusCode) || doc["error"] != http.StatusText(resp.StatusCode) {
			t.Errorf("case %d: body %q does not describe status %d", i, body, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("case %d: Content-Type %q", i, ct)
		}
	}
}

func indent(s string) string { return "\t" + strings.ReplaceAll(s, "\n", "\n\t") }

// TestGatewayConfigErrorsThroughCaddy: configurations that used to load and
// then refuse every request (or fetch keys in cleartext) are load errors
// naming the Caddyfile line.
func TestGatewayConfigErrorsThroughCaddy(t *testing.T) {
	useInProcessCaddy(t)
	for _, tt := range []struct {
		name, block, want string // want is matched against the admin API's JSON error
	}{
		{"plain http jwks", "jwks http://idp.example/jwks", `jwks \"http://idp.example/jwks\" uses plain http to a non-loopback host, so its keys could be replaced in transit; use https, or set insecure_http to accept the risk, at Caddyfile:8`},
		{"plain http issuer", "audience a\n\t\tissuer http://idp.example", `issuer \"http://idp.example\" uses plain http to a non-loopback host`},
		{"header mapped twice", "issuer https://idp.example\n\t\theader X-User sub\n\t\theader x-user email", `header X-User is mapped twice (header names are case-insensitive), at Caddyfile:10`},
		{"HS256 with a JWKS", "jwks https://idp.example/jwks\n\t\talgorithms HS256", `algorithm HS256 needs hmac_secret`},
		{"empty scope", "issuer https://idp.example\n\t\tscope \"\"", `scope: empty scope \"\", at Caddyfile:9`},
		{"jwks max_stale 1ns", "jwks https://idp.example/jwks {\n\t\t\tmax_stale 1ns\n\t\t}", `jwks: max_stale 1ns is out of range: must be between 1s and 720h, at Caddyfile:9`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			caddytest.AssertLoadError(t, "{\n\tadmin localhost:2999\n\tskip_install_trust\n\thttp_port 9462\n}\nhttp://localhost:9462 {\n\tauthgate {\n\t\t"+tt.block+"\n\t}\n\trespond ok\n}\n", "caddyfile", tt.want)
		})
	}
}

// TestInsecureHTTPOptIn: with insecure_http, plain-http key sources load
// (and `caddy validate` stays offline: nothing is fetched).
func TestInsecureHTTPOptIn(t *testing.T) {
	useInProcessCaddy(t)
	cfgText := `{
	admin off
	auto_https off
}
http://127.0.0.1:9463 {
	authgate {
		issuer http://192.0.2.1
		jwks http://192.0.2.1/jwks
		insecure_http
	}
	respond "ok"
}`
	adapted := adaptCaddyfile(t, cfgText)
	if err := validateJSON(t, adapted); err != nil {
		t.Fatal(err)
	}
	// The same JSON without the opt-in fails Validate (JSON configs never
	// pass through the Caddyfile parser).
	withoutOptIn := strings.Replace(string(adapted), `"insecure_http":true`, `"insecure_http":false`, 1)
	if withoutOptIn == string(adapted) {
		t.Fatalf("insecure_http not in the adapted JSON: %s", adapted)
	}
	if err := validateJSON(t, []byte(withoutOptIn)); err == nil || !strings.Contains(err.Error(), "set insecure_http") {
		t.Fatalf("Validate without insecure_http = %v", err)
	}
}
