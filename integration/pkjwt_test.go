package integration

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// private_key_jwt and client_secret_jwt end to end: a real Caddy, key
// files, client JWKS served over real HTTP (one healthy, one of 2 MiB, one
// unreachable), and panva's openid-client as a client we did not write.
const (
	pkBase     = "http://127.0.0.1:9656"
	pkTokenURL = pkBase + "/oauth/token"
	pkJWKS     = "127.0.0.1:9653"
	pkBigJWKS  = "127.0.0.1:9654"
	pkDownJWKS = "127.0.0.1:9655" // nothing listens
	pkHMAC     = "hmac-partner-secret-of-at-least-32-bytes"
)

type pkKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

// pkServe serves body on addr until the test ends.
func pkServe(t *testing.T, addr string, body []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func pkWritePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pkStart(t *testing.T) (*pkKeys, string) {
	t.Helper()
	dir := t.TempDir()
	k := &pkKeys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	k.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	pub := func(p crypto.PublicKey) []byte {
		der, err := x509.MarshalPKIXPublicKey(p)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	rsaFile := filepath.Join(dir, "rsa.jwks")
	if err := os.WriteFile(rsaFile, testutil.JWKS(testutil.PublicJWK(t, k.rsa.Public(), "k1", "", "sig")), 0o600); err != nil {
		t.Fatal(err)
	}
	ecFile := pkWritePEM(t, dir, "partner.pem", "PUBLIC KEY", pub(k.ec.Public()))
	ecDER, _ := x509.MarshalPKCS8PrivateKey(k.ec)
	ecPriv := pkWritePEM(t, dir, "partner-private.pem", "PRIVATE KEY", ecDER)
	edJWKS := testutil.JWKS(testutil.PublicJWK(t, k.ed.Public(), "ed1", "EdDSA", "sig"))
	pkServe(t, pkJWKS, edJWKS)
	pkServe(t, pkBigJWKS, append(edJWKS[:len(edJWKS):len(edJWKS)], []byte(strings.Repeat(" ", 2<<20))...))
	setenvInProcess(t, "HMAC_PARTNER_SECRET", pkHMAC)
	cfg := fmt.Sprintf(`{
	skip_install_trust
	admin localhost:2999
	http_port 9656
	authgate {
		storage bolt %[1]s
	}
}
%[2]s {
	authgate_issuer {
		issuer %[2]s
		client pk-rsa {
			auth_method private_key_jwt
			key %[3]s
			allowed_kids k1
			scopes read
		}
		client partner {
			auth_method private_key_jwt
			key %[4]s partner-cert
			scopes read
		}
		client pk-ed {
			auth_method private_key_jwt
			jwks_uri http://%[5]s/jwks.json
		}
		client pk-big {
			auth_method private_key_jwt
			jwks_uri http://%[6]s/jwks.json
		}
		client pk-down {
			auth_method private_key_jwt
			jwks_uri http://%[7]s/jwks.json
		}
		client hmac-partner {
			auth_method client_secret_jwt
			secret {env.HMAC_PARTNER_SECRET}
		}
		client app {
			secret app-secret
		}
		client legacy-rs {
			secret legacy-secret
			signing_alg RS256
		}
	}
	route /api/* {
		authgate {
			issuer %[2]s
		}
		respond "client={http.auth.user.client_id}"
	}
}
`, filepath.Join(dir, "a.db"), pkBase, rsaFile, ecFile, pkJWKS, pkBigJWKS, pkDownJWKS)
	caddytest.NewTester(t).InitServer(cfg, "caddyfile")
	return k, ecPriv
}

func pkAssertion(t *testing.T, key any, alg, kid, client string, mutate func(map[string]any)) string {
	now := time.Now().Unix()
	c := map[string]any{"iss": client, "sub": client, "aud": pkTokenURL, "iat": now, "exp": now + 60, "jti": jwRandHex(16)}
	if mutate != nil {
		mutate(c)
	}
	h := map[string]string{"alg": alg}
	if kid != "" {
		h["kid"] = kid
	}
	return testutil.MustSignJWT(t, key, h, c)
}

func pkToken(t *testing.T, a string) issResp {
	t.Helper()
	f := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
	return issPost(t, http.DefaultClient, pkTokenURL, f, "", "")
}

func TestPrivateKeyJWTEndToEnd(t *testing.T) {
	useInProcessCaddy(t)
	k, _ := pkStart(t)
	for name, a := range map[string]string{
		"RS256":             pkAssertion(t, k.rsa, "RS256", "k1", "pk-rsa", nil),
		"ES256 (PEM + kid)": pkAssertion(t, k.ec, "ES256", "partner-cert", "partner", nil),
		"EdDSA (jwks_uri)":  pkAssertion(t, k.ed, "EdDSA", "ed1", "pk-ed", nil),
		"client_secret_jwt": pkAssertion(t, []byte(pkHMAC), "HS256", "", "hmac-partner", nil),
	} {
		r := pkToken(t, a)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", name, r.status, r.raw)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: Cache-Control %q", name, r.header.Get("Cache-Control"))
		}
	}
	replayed := pkAssertion(t, k.ec, "ES256", "partner-cert", "partner", nil)
	if r := pkToken(t, replayed); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	now := time.Now().Unix()
	for name, a := range map[string]string{
		"replayed jti":      replayed,
		"wrong aud":         pkAssertion(t, k.ec, "ES256", "", "partner", func(c map[string]any) { c["aud"] = "https://evil.example/oauth/token" }),
		"expired":           pkAssertion(t, k.ec, "ES256", "", "partner", func(c map[string]any) { c["exp"] = now - 300 }),
		"kid not allowed":   pkAssertion(t, k.rsa, "RS256", "k9", "pk-rsa", nil),
		"unreachable JWKS":  pkAssertion(t, k.ed, "EdDSA", "ed1", "pk-down", nil),
		"2 MiB JWKS":        pkAssertion(t, k.ed, "EdDSA", "ed1", "pk-big", nil),
		"HS256 for pk-rsa":  pkAssertion(t, []byte(strings.Repeat("k", 32)), "HS256", "k1", "pk-rsa", nil),
		"public key as MAC": pkAssertion(t, x509PEM(t, k.ec.Public()), "HS256", "", "partner", nil),
	} {
		r := pkToken(t, a)
		if r.status != 401 || r.body["error"] != "invalid_client" {
			t.Fatalf("%s: %d %s", name, r.status, r.raw)
		}
	}
}

// A client's own signing_alg: its tokens are RS256 next to the issuer's
// ES256 ones, both keys are published, and the gateway accepts both.
func TestPerClientSigningAlgEndToEnd(t *testing.T) {
	useInProcessCaddy(t)
	pkStart(t)
	c := http.DefaultClient
	kids := map[string]string{}
	res, err := c.Get(pkBase + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []struct{ Kid, Alg string } `json:"keys"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, k := range doc.Keys {
		kids[k.Kid] = k.Alg
	}
	for id, want := range map[string]string{"legacy-rs": "RS256", "app": "ES256"} {
		r := issPost(t, c, pkTokenURL, url.Values{"grant_type": {"client_credentials"}}, id, map[string]string{"legacy-rs": "legacy-secret", "app": "app-secret"}[id])
		if r.status != 200 {
			t.Fatalf("%s: %d %s", id, r.status, r.raw)
		}
		tok := r.body["access_token"].(string)
		hdr, _ := issClaims(t, tok)
		if hdr["alg"] != want || kids[hdr["kid"].(string)] != want {
			t.Fatalf("%s: header %v, published %v", id, hdr, kids)
		}
		req, _ := http.NewRequest("GET", pkBase+"/api/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if r := issDo(t, c, req); r.status != 200 || r.raw != "client="+id {
			t.Fatalf("%s at the gateway: %d %s", id, r.status, r.raw)
		}
	}
}

func x509PEM(t *testing.T, p crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(p)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// openIDClientDir is the npm fixture with panva's openid-client that
// TestPrivateKeyJWTOpenIDClient and TestDPoPOpenIDClient run with node.
const openIDClientDir = "testdata/openid-client"

// needNodeModules skips (or, under CI, fails) when node or the fixture's
// npm packages are missing.
func needNodeModules(t *testing.T, dir string) string {
	t.Helper()
	testutil.SkipIfShort(t, "run node")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules"))
	}
	if err != nil {
		msg := fmt.Sprintf("needs node (Debian package nodejs) and `npm ci` in %s: %v", dir, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node
}

// TestPrivateKeyJWTOpenIDClient: panva's openid-client discovers the
// issuer, signs its own private_key_jwt assertions and gets tokens twice
// (two jtis, so replay protection lets both through).
func TestPrivateKeyJWTOpenIDClient(t *testing.T) {
	useInProcessCaddy(t)
	dir, _ := filepath.Abs(openIDClientDir)
	node := needNodeModules(t, dir)
	_, ecPriv := pkStart(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "private_key_jwt.mjs", pkBase, "partner", ecPriv, "partner-cert")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openid-client: %v\n%s", err, out)
	}
	n := 0
	for sc := bufio.NewScanner(strings.NewReader(string(out))); sc.Scan(); n++ {
		var tok struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		if err := json.Unmarshal(sc.Bytes(), &tok); err != nil || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
			t.Fatalf("openid-client output %q: %v", sc.Text(), err)
		}
		if _, claims := issClaims(t, tok.AccessToken); claims["client_id"] != "partner" || claims["scope"] != "read" {
			t.Fatalf("claims %v", claims)
		}
	}
	if n != 2 {
		t.Fatalf("openid-client printed %d tokens:\n%s", n, out)
	}
}
