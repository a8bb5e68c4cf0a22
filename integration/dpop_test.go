package integration

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// Ports of the DPoP tests (9700-9749): one site with an issuer without a
// server nonce, one with dpop_nonce.
const (
	dpBase      = "http://127.0.0.1:9700"
	dpNonceBase = "http://127.0.0.1:9701"
)

// dpCaddyfile: two issuers (one requires a server nonce), each with a
// gateway in front of /api/* (dpop optional), /strict/* (required) and
// /off/* (off).
func dpCaddyfile(db string) string {
	site := func(base, extra string) string {
		return fmt.Sprintf(`
%[1]s {
	authgate_issuer {
		issuer %[1]s
		%[2]s
		client app {
			secret app-secret
			scopes read write
		}
		client opq {
			secret opq-secret
			scopes read
			token_format opaque
		}
		client mobile {
			secret mobile-secret
			scopes read
			dpop required
		}
	}
	route /api/* {
		authgate {
			issuer %[1]s
			audience %[1]s
			header X-Client client_id
		}
		respond "api client={http.request.header.X-Client}"
	}
	route /strict/* {
		authgate {
			issuer %[1]s
			audience %[1]s
			dpop required
		}
		respond "strict"
	}
	route /v1/* {
		uri strip_prefix /v1
		authgate {
			issuer %[1]s
			audience %[1]s
		}
		respond "v1 {uri}"
	}
	route /off/* {
		authgate {
			issuer %[1]s
			audience %[1]s
			dpop off
		}
		respond "off"
	}
	respond "public"
}
`, base, extra)
	}
	return boltGlobals(9700, db) + site(dpBase, "") + site(dpNonceBase, "dpop_nonce")
}

// dpKey is a DPoP key whose proofs jwx signs (testutil.DPoPKey).
type dpKey struct {
	*testutil.DPoPKey
	jkt string
}

func dpNewKey(t *testing.T) *dpKey {
	k := testutil.NewDPoPKey(t)
	return &dpKey{k, k.JKT}
}

// proof signs a proof now; over replaces claims (nil deletes one).
func (k *dpKey) proof(t *testing.T, method, htu, tok string, over map[string]any) string {
	t.Helper()
	return k.Proof(t, method, htu, tok, time.Now(), over)
}

// dpToken asks base's token endpoint for a token with the given proof ("":
// none).
func dpToken(t *testing.T, c *http.Client, base, id, secret, proof string) issResp {
	t.Helper()
	f := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", base+"/oauth/token", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return issDo(t, c, req)
}

// dpCall calls url with the token under scheme and the proof ("": none).
func dpCall(t *testing.T, c *http.Client, method, u, scheme, tok, proof string) issResp {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Authorization", scheme+" "+tok)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return issDo(t, c, req)
}

func TestDPoPEndToEnd(t *testing.T) {
	useInProcessCaddy(t)
	tester := issStart(t, dpCaddyfile(filepath.Join(t.TempDir(), "dpop.db")))
	c := tester.Client
	k, other := dpNewKey(t), dpNewKey(t)
	api := dpBase + "/api/orders"

	r := dpToken(t, c, dpBase, "app", "app-secret", k.proof(t, "POST", dpBase+"/oauth/token", "", nil))
	if r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("DPoP token: %d %s", r.status, r.raw)
	}
	tok := r.body["access_token"].(string)
	if _, claims := issClaims(t, tok); claims["cnf"].(map[string]any)["jkt"] != k.jkt {
		t.Fatalf("cnf: %v, want jkt %s", claims["cnf"], k.jkt)
	}
	// Used twice (the second time from the verified-token cache), a fresh
	// proof each time.
	for i := 0; i < 2; i++ {
		if r := dpCall(t, c, "GET", api, "DPoP", tok, k.proof(t, "GET", api, tok, nil)); r.status != 200 || r.raw != "api client=app" {
			t.Fatalf("call %d: %d %s", i, r.status, r.raw)
		}
	}

	replayed := k.proof(t, "GET", api, tok, nil)
	if r := dpCall(t, c, "GET", api, "DPoP", tok, replayed); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	now := time.Now().Unix()
	for name, tc := range map[string]struct {
		method, scheme, proof, code string
	}{
		"replayed proof":     {"GET", "DPoP", replayed, "invalid_dpop_proof"},
		"wrong htm":          {"GET", "DPoP", k.proof(t, "DELETE", api, tok, nil), "invalid_dpop_proof"},
		"wrong method":       {"POST", "DPoP", k.proof(t, "GET", api, tok, nil), "invalid_dpop_proof"},
		"wrong htu path":     {"GET", "DPoP", k.proof(t, "GET", dpBase+"/api/other", tok, nil), "invalid_dpop_proof"},
		"wrong htu port":     {"GET", "DPoP", k.proof(t, "GET", dpNonceBase+"/api/orders", tok, nil), "invalid_dpop_proof"},
		"stale iat":          {"GET", "DPoP", k.proof(t, "GET", api, tok, map[string]any{"iat": now - 300}), "invalid_dpop_proof"},
		"future iat":         {"GET", "DPoP", k.proof(t, "GET", api, tok, map[string]any{"iat": now + 300}), "invalid_dpop_proof"},
		"wrong ath":          {"GET", "DPoP", k.proof(t, "GET", api, tok+"x", nil), "invalid_dpop_proof"},
		"no ath":             {"GET", "DPoP", k.proof(t, "GET", api, "", nil), "invalid_dpop_proof"},
		"proof key != jkt":   {"GET", "DPoP", other.proof(t, "GET", api, tok, nil), "invalid_token"},
		"no proof":           {"GET", "DPoP", "", "invalid_dpop_proof"},
		"bound token Bearer": {"GET", "Bearer", "", "invalid_token"},
	} {
		r := dpCall(t, c, tc.method, api, tc.scheme, tok, tc.proof)
		ch := r.header.Get("WWW-Authenticate")
		if r.status != 401 || !strings.HasPrefix(ch, `DPoP realm="127.0.0.1", error="`+tc.code+`"`) || !strings.Contains(ch, `algs="ES256 ES384`) {
			t.Errorf("%s: %d %q %s", name, r.status, ch, r.raw)
		}
	}

	// htu is the URI the client called, before Caddy rewrote it.
	v1 := dpBase + "/v1/orders"
	if r := dpCall(t, c, "GET", v1, "DPoP", tok, k.proof(t, "GET", v1, tok, nil)); r.status != 200 || r.raw != "v1 /orders" {
		t.Fatalf("rewritten path, proof for the called URI: %d %s", r.status, r.raw)
	}
	if r := dpCall(t, c, "GET", v1, "DPoP", tok, k.proof(t, "GET", dpBase+"/orders", tok, nil)); r.status != 401 {
		t.Fatalf("rewritten path, proof for the rewritten URI: %d %s", r.status, r.raw)
	}

	// Opaque tokens are bound too.
	r = dpToken(t, c, dpBase, "opq", "opq-secret", k.proof(t, "POST", dpBase+"/oauth/token", "", nil))
	if r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("opaque DPoP token: %d %s", r.status, r.raw)
	}
	otok := r.body["access_token"].(string)
	if r := dpCall(t, c, "GET", api, "DPoP", otok, k.proof(t, "GET", api, otok, nil)); r.status != 200 {
		t.Fatalf("opaque DPoP call: %d %s", r.status, r.raw)
	}
	if r := dpCall(t, c, "GET", api, "Bearer", otok, ""); r.status != 401 {
		t.Fatalf("bound opaque token as Bearer: %d %s", r.status, r.raw)
	}
	if r := dpCall(t, c, "GET", api, "DPoP", otok, other.proof(t, "GET", api, otok, nil)); r.status != 401 {
		t.Fatalf("bound opaque token, other key: %d %s", r.status, r.raw)
	}
	in := issPost(t, c, dpBase+"/oauth/introspect", url.Values{"token": {otok}}, "opq", "opq-secret")
	if in.body["token_type"] != "DPoP" || in.body["cnf"].(map[string]any)["jkt"] != k.jkt {
		t.Fatalf("introspection: %s", in.raw)
	}

	// Bearer tokens: accepted where DPoP is optional or off, refused
	// where it is required (with the DPoP challenge).
	r = dpToken(t, c, dpBase, "app", "app-secret", "")
	if r.status != 200 || r.body["token_type"] != "Bearer" {
		t.Fatalf("bearer token: %d %s", r.status, r.raw)
	}
	bearer := r.body["access_token"].(string)
	if r := dpCall(t, c, "GET", api, "Bearer", bearer, ""); r.status != 200 {
		t.Fatalf("bearer, optional: %d %s", r.status, r.raw)
	}
	if r := dpCall(t, c, "GET", dpBase+"/off/x", "Bearer", bearer, ""); r.status != 200 {
		t.Fatalf("bearer, off: %d %s", r.status, r.raw)
	}
	r = dpCall(t, c, "GET", dpBase+"/strict/x", "Bearer", bearer, "")
	if ch := r.header.Get("WWW-Authenticate"); r.status != 401 || !strings.HasPrefix(ch, `DPoP realm="127.0.0.1", error="invalid_token"`) {
		t.Fatalf("bearer, required: %d %q", r.status, ch)
	}
	strict := dpBase + "/strict/x"
	if r := dpCall(t, c, "GET", strict, "DPoP", tok, k.proof(t, "GET", strict, tok, nil)); r.status != 200 {
		t.Fatalf("DPoP, required: %d %s", r.status, r.raw)
	}
	// dpop off: the DPoP scheme is not read, the bound token is refused
	// as Bearer.
	if r := dpCall(t, c, "GET", dpBase+"/off/x", "Bearer", tok, ""); r.status != 401 {
		t.Fatalf("bound token, off: %d %s", r.status, r.raw)
	}
	// Optional mode's Bearer challenge names DPoP beside it.
	r = dpCall(t, c, "GET", api, "Bearer", "forged.token.x", "")
	if ch := r.header.Values("WWW-Authenticate"); r.status != 401 || len(ch) != 2 || !strings.HasPrefix(ch[0], "Bearer ") || !strings.HasPrefix(ch[1], `DPoP realm="127.0.0.1", algs="`) {
		t.Fatalf("optional mode challenges: %d %q", r.status, ch)
	}

	// A dpop required client gets no Bearer token.
	issWantError(t, dpToken(t, c, dpBase, "mobile", "mobile-secret", ""), 400, "invalid_dpop_proof")
	if r := dpToken(t, c, dpBase, "mobile", "mobile-secret", k.proof(t, "POST", dpBase+"/oauth/token", "", nil)); r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("mobile with a proof: %d %s", r.status, r.raw)
	}
	// A replayed proof at the token endpoint is refused.
	p := k.proof(t, "POST", dpBase+"/oauth/token", "", nil)
	if r := dpToken(t, c, dpBase, "app", "app-secret", p); r.status != 200 {
		t.Fatalf("first proof: %d %s", r.status, r.raw)
	}
	issWantError(t, dpToken(t, c, dpBase, "app", "app-secret", p), 400, "invalid_dpop_proof")
	issWantError(t, dpToken(t, c, dpBase, "app", "app-secret", k.proof(t, "POST", dpNonceBase+"/oauth/token", "", nil)), 400, "invalid_dpop_proof")

	// The server nonce flow (RFC 9449 §8).
	nr := dpToken(t, c, dpNonceBase, "app", "app-secret", k.proof(t, "POST", dpNonceBase+"/oauth/token", "", nil))
	issWantError(t, nr, 400, "use_dpop_nonce")
	nonce := nr.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without DPoP-Nonce")
	}
	nr = dpToken(t, c, dpNonceBase, "app", "app-secret", k.proof(t, "POST", dpNonceBase+"/oauth/token", "", map[string]any{"nonce": nonce}))
	if nr.status != 200 || nr.body["token_type"] != "DPoP" {
		t.Fatalf("with the nonce: %d %s", nr.status, nr.raw)
	}
	// The other issuer's nonce source is its own.
	issWantError(t, dpToken(t, c, dpNonceBase, "app", "app-secret", k.proof(t, "POST", dpNonceBase+"/oauth/token", "", map[string]any{"nonce": "forged"})), 400, "use_dpop_nonce")
}

// panva's openid-client (v6, not ours) discovers the issuer, obtains a
// DPoP-bound token through the server-nonce flow and calls the gateway
// with it. Run with node from testdata/openid-client (npm ci there first;
// .ci/run does).
func TestDPoPOpenIDClient(t *testing.T) {
	useInProcessCaddy(t)
	dir := openIDClientDir
	node := needNodeModules(t, dir)
	tester := issStart(t, dpCaddyfile(filepath.Join(t.TempDir(), "dpop.db")))
	api := dpNonceBase + "/strict/orders"
	cmd := exec.Command(node, "dpop.mjs", dpNonceBase, "mobile", "mobile-secret", api)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("openid-client: %v\n%s\n%s", err, out, stderr)
	}
	var res struct {
		TokenType    string          `json:"token_type"`
		AccessToken  string          `json:"access_token"`
		MetadataAlgs []string        `json:"metadata_algs"`
		JWK          json.RawMessage `json:"jwk"`
		Calls        []struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"calls"`
		TokenStatuses []int `json:"token_statuses"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("openid-client output %q: %v", out, err)
	}
	if !strings.EqualFold(res.TokenType, "DPoP") || len(res.MetadataAlgs) == 0 {
		t.Fatalf("openid-client got %+v", res)
	}
	for i, call := range res.Calls {
		if call.Status != 200 || call.Body != "strict" {
			t.Fatalf("openid-client call %d: %+v", i, call)
		}
	}
	if len(res.Calls) != 2 {
		t.Fatalf("calls: %+v", res.Calls)
	}
	// The nonce flow: use_dpop_nonce first, then the retry with it.
	if fmt.Sprint(res.TokenStatuses) != "[400 200]" {
		t.Fatalf("token endpoint answers %v, want [400 200]", res.TokenStatuses)
	}
	// The token is bound to openid-client's key, and useless as Bearer.
	key, err := jwk.ParseKey(res.JWK)
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := key.Thumbprint(crypto.SHA256)
	if _, claims := issClaims(t, res.AccessToken); claims["cnf"].(map[string]any)["jkt"] != base64.RawURLEncoding.EncodeToString(tp) {
		t.Fatalf("cnf %v is not openid-client's key", claims["cnf"])
	}
	if r := dpCall(t, tester.Client, "GET", dpNonceBase+"/api/orders", "Bearer", res.AccessToken, ""); r.status != 401 {
		t.Fatalf("openid-client's token as Bearer: %d %s", r.status, r.raw)
	}
}
