package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

const (
	admBase    = "http://127.0.0.1:9750"
	admToken   = admBase + "/oauth/token"
	admAddress = "localhost:2999"
)

// admCaddyfile: an issuer on 127.0.0.1:9750 (one config client, which
// also declares the scopes run-time clients may get), a gateway trusting
// it in-process on /api/*, and the audit log written to auditLog.
func admCaddyfile(db, auditLog string) string { return admCaddyfileOn(9750, db, auditLog) }

// admCaddyfileOn is admCaddyfile on 127.0.0.1:port (issuer URL included),
// for a test on a child Caddy, which must not share 9750 with the in-process
// ones.
func admCaddyfileOn(port int, db, auditLog string) string {
	base := issBaseOn(port)
	audit := fmt.Sprintf(`	log audit {
		output file %s
		include authgate.audit
		format json
	}
`, auditLog)
	return boltGlobals(port, db, audit) + fmt.Sprintf(`%s {
	authgate_issuer {
		issuer %s
		key_rotation 40s
		client app {
			secret app-secret
			scopes read write
		}
	}
	route /api/* {
		authgate {
			issuer %s
			header X-Client client_id
		}
		respond "client={http.request.header.X-Client}"
	}
	respond "public"
}
`, base, base, base)
}

// admAt is where the admin CLI tests talk to: the issuer's URL (its token
// endpoint and gateway) and Caddy's admin endpoint (the CLI's --address).
type admAt struct{ base, address string }

// admInProcess is the in-process Caddy's issuer of admCaddyfile.
var admInProcess = admAt{admBase, admAddress}

// cliResult is one `caddy authgate ...` run.
type cliResult struct {
	code           int
	stdout, stderr string
	err            string
}

// authgateCLI runs `caddy authgate <args>` in-process through the command
// registered with Caddy (the real binary's code path), with stdin.
func authgateCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	reg, ok := caddycmd.Commands()["authgate"]
	if !ok {
		t.Fatal("the authgate command is not registered")
	}
	cmd := &cobra.Command{Use: "authgate"}
	reg.CobraFunc(cmd)
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetIn(strings.NewReader(stdin))
	err := cmd.Execute()
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		r.err = err.Error()
		r.code = 1
		// Caddy's exitError carries the command's exit code.
		if v := reflect.ValueOf(err); v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
			if f := v.Elem().FieldByName("ExitCode"); f.IsValid() {
				r.code = int(f.Int())
			}
		}
	}
	return r
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d, err %q, stdout %q, stderr %q", r.code, r.err, r.stdout, r.stderr)
}

func mustCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	return admInProcess.mustCLI(t, args...)
}

func (a admAt) mustCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	r := authgateCLI(t, "", append(args, "--address", a.address)...)
	if r.code != 0 {
		t.Fatalf("caddy authgate %s: %s", strings.Join(args, " "), r)
	}
	return r
}

var (
	cliClientID     = regexp.MustCompile(`(?m)^client_id:\s+(\S+)$`)
	cliClientSecret = regexp.MustCompile(`(?m)^client_secret:\s+(\S+)$`)
)

func admTokenStatus(t *testing.T, c *http.Client, id, secret string) (int, string) {
	t.Helper()
	return admInProcess.tokenStatus(t, c, id, secret)
}

func (a admAt) tokenStatus(t *testing.T, c *http.Client, id, secret string) (int, string) {
	t.Helper()
	r := issPost(t, c, a.base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
	tok, _ := r.body["access_token"].(string)
	return r.status, tok
}

func admMustToken(t *testing.T, c *http.Client, id, secret string) string {
	t.Helper()
	return admInProcess.mustToken(t, c, id, secret)
}

func (a admAt) mustToken(t *testing.T, c *http.Client, id, secret string) string {
	t.Helper()
	status, tok := a.tokenStatus(t, c, id, secret)
	if status != 200 {
		t.Fatalf("token for %s: %d", id, status)
	}
	return tok
}

func admGateway(t *testing.T, c *http.Client, tok string) issResp {
	t.Helper()
	return admInProcess.gateway(t, c, tok)
}

func (a admAt) gateway(t *testing.T, c *http.Client, tok string) issResp {
	t.Helper()
	req, _ := http.NewRequest("GET", a.base+"/api/orders", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return issDo(t, c, req)
}

// refusedWithin polls the gateway until it refuses tok, failing after d.
func refusedWithin(t *testing.T, c *http.Client, tok string, d time.Duration, what string) time.Duration {
	t.Helper()
	return admInProcess.refusedWithin(t, c, tok, d, what)
}

func (a admAt) refusedWithin(t *testing.T, c *http.Client, tok string, d time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := a.gateway(t, c, tok)
		if r.status == 401 {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: the gateway still answers %d %q after %s", what, r.status, r.raw, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdminCLI(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2910), on 127.0.0.1:9752
	a := admAt{base: issBaseOn(9752), address: "127.0.0.1:2910"}
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit.log")
	startChildCaddy(t, 2910, admCaddyfileOn(9752, filepath.Join(dir, "a.db"), auditLog))
	c := caddytest.NewTester(t).Client

	// create -> a token works at once, at the token endpoint and the gateway.
	r := a.mustCLI(t, "client", "create", "--name", "partner-a", "--scope", "read", "--ttl", "10m", "--allow-ip", "127.0.0.0/8")
	m1, m2 := cliClientID.FindStringSubmatch(r.stdout), cliClientSecret.FindStringSubmatch(r.stdout)
	if m1 == nil || m2 == nil {
		t.Fatalf("create printed no credentials: %s", r)
	}
	id, secret := m1[1], m2[1]
	tok := a.mustToken(t, c, id, secret)
	if g := a.gateway(t, c, tok); g.status != 200 || g.raw != "client="+id {
		t.Fatalf("new client's token at the gateway: %d %q", g.status, g.raw)
	}
	if s := a.mustCLI(t, "client", "show", id).stdout; !strings.Contains(s, "partner-a") || strings.Contains(s, secret) {
		t.Fatalf("show: %q", s)
	}
	if s := a.mustCLI(t, "client", "list").stdout; !strings.Contains(s, id) || !strings.Contains(s, "app") || !strings.Contains(s, "config") {
		t.Fatalf("list: %q", s)
	}
	var shown map[string]any
	if err := json.Unmarshal([]byte(a.mustCLI(t, "client", "show", id, "--json").stdout), &shown); err != nil || shown["access_token_ttl"] != 600.0 {
		t.Fatalf("show --json: %v %v", shown, err)
	}
	a.mustCLI(t, "client", "update", id, "--scope", "read", "--scope", "write", "--format", "jwt")

	// rotate-secret --keep-current: old and new work; old stops at its
	// expiry (RFC 3339 has whole seconds: 2 to 3 s from now; the rotation
	// and the three calls before the expiry take under 0.1 s, with -race;
	// the margin is for a loaded CI machine: the test runs beside others).
	expires := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	r = a.mustCLI(t, "client", "rotate-secret", id, "--keep-current", "--expires", expires.Format(time.RFC3339), "--description", "partner switching")
	m2 = cliClientSecret.FindStringSubmatch(r.stdout)
	if m2 == nil || m2[1] == secret {
		t.Fatalf("rotate printed no new secret: %s", r)
	}
	fresh := m2[1]
	a.mustToken(t, c, id, secret)
	a.mustToken(t, c, id, fresh)
	if s := a.mustCLI(t, "client", "secrets", id).stdout; !strings.Contains(s, "partner switching") || strings.Contains(s, secret) || strings.Contains(s, fresh) {
		t.Fatalf("secrets: %q", s)
	}
	for {
		status, _ := a.tokenStatus(t, c, id, secret)
		if status == 401 {
			break
		}
		if time.Now().After(expires.Add(2 * time.Second)) {
			t.Fatalf("the kept secret still works after its expiry %s", expires)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if time.Now().Before(expires) {
		t.Fatalf("the kept secret stopped before its expiry %s", expires)
	}
	tok = a.mustToken(t, c, id, fresh)

	// disable -> that client's existing token is refused at the gateway
	// within 1 s, and at the token endpoint.
	a.mustCLI(t, "client", "disable", id)
	took := a.refusedWithin(t, c, tok, time.Second, "disabled client")
	t.Logf("disabled client's token refused after %s", took)
	if status, _ := a.tokenStatus(t, c, id, fresh); status != 401 {
		t.Fatalf("disabled client got a token: %d", status)
	}
	if in := issPost(t, c, a.base+"/oauth/introspect", url.Values{"token": {tok}}, "app", "app-secret"); in.body["active"] != false {
		t.Fatalf("disabled client's token introspected: %s", in.raw)
	}
	a.mustCLI(t, "client", "enable", id)
	if g := a.gateway(t, c, tok); g.status != 200 {
		t.Fatalf("re-enabled client's token: %d", g.status)
	}

	// revoke --client -> every token issued so far is refused.
	a.mustCLI(t, "revoke", "--client", id)
	a.refusedWithin(t, c, tok, time.Second, "revoke --client")
	if in := issPost(t, c, a.base+"/oauth/introspect", url.Values{"token": {tok}}, "app", "app-secret"); in.body["active"] != false {
		t.Fatalf("revoked client's token introspected: %s", in.raw)
	}

	// delete -> refused, and its tokens refused (several at once).
	r2 := a.mustCLI(t, "client", "create", "--name", "partner-b")
	id2, secret2 := cliClientID.FindStringSubmatch(r2.stdout)[1], cliClientSecret.FindStringSubmatch(r2.stdout)[1]
	tok2 := a.mustToken(t, c, id2, secret2)
	if g := a.gateway(t, c, tok2); g.status != 200 {
		t.Fatalf("partner-b's token: %d", g.status)
	}
	a.mustCLI(t, "client", "delete", id, id2)
	a.refusedWithin(t, c, tok2, time.Second, "deleted client")
	if status, _ := a.tokenStatus(t, c, id2, secret2); status != 401 {
		t.Fatalf("deleted client got a token: %d", status)
	}
	if s := a.mustCLI(t, "client", "list").stdout; strings.Contains(s, id) || strings.Contains(s, id2) {
		t.Fatalf("deleted clients listed: %q", s)
	}

	// revoke --token / --jti of a config client.
	appTok := a.mustToken(t, c, "app", "app-secret")
	a.mustCLI(t, "revoke", "--token", appTok)
	a.refusedWithin(t, c, appTok, time.Second, "revoke --token")
	appTok = a.mustToken(t, c, "app", "app-secret")
	if r := authgateCLI(t, appTok+"\n", "revoke", "--token", "-", "--address", a.address); r.code != 0 {
		t.Fatalf("revoke --token - (stdin): %s", r)
	}
	a.refusedWithin(t, c, appTok, time.Second, "revoke --token -")

	// keys rotate --now: published now, signs after the lead; twice is
	// refused.
	if s := a.mustCLI(t, "keys", "rotate").stdout; !strings.Contains(s, "--now") {
		t.Fatalf("keys rotate without --now: %q", s)
	}
	r = a.mustCLI(t, "keys", "rotate", "--now")
	if !strings.Contains(r.stdout, "published now") {
		t.Fatalf("keys rotate --now: %s", r)
	}
	again := authgateCLI(t, "", "keys", "rotate", "--now", "--address", a.address)
	if again.code != 4 || !strings.Contains(again.err, "already in progress") {
		t.Fatalf("second keys rotate --now within the lead: %s", again)
	}
	if s := a.mustCLI(t, "keys", "list").stdout; !strings.Contains(s, "pending") || !strings.Contains(s, "active") {
		t.Fatalf("keys list: %q", s)
	}

	// hash-secret: the hash works as a secret_hash (checked by the issuer
	// tests); here the command reads stdin and prints a PHC string.
	if r := authgateCLI(t, "s3cret\n", "hash-secret"); r.code != 0 || !strings.HasPrefix(r.stdout, "$argon2id$v=19$") {
		t.Fatalf("hash-secret: %s", r)
	}
	if r := authgateCLI(t, "s3cret\n", "hash-secret", "--algorithm", "sha256"); r.code != 0 || strings.TrimSpace(r.stdout) != "sha256:"+issSHA256Hex("s3cret") {
		t.Fatalf("hash-secret sha256: %s", r)
	}

	// The audit log: one line per change, who made it, never a secret.
	data, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if line["logger"] != "authgate.audit" || !strings.HasPrefix(fmt.Sprint(line["by"]), "addr:127.0.0.1:") && !strings.HasPrefix(fmt.Sprint(line["by"]), "addr:[::1]:") {
			t.Fatalf("audit line: %v", line)
		}
		actions = append(actions, fmt.Sprint(line["action"]))
	}
	for _, s := range []string{secret, fresh, secret2, tok, tok2, appTok} {
		if bytes.Contains(data, []byte(s)) {
			t.Fatal("the audit log carries a secret or a token")
		}
	}
	want := "client.create client.update client.secret.rotate client.disable client.enable client.revoke client.create client.delete client.delete token.revoke token.revoke keys.rotate"
	if strings.Join(actions, " ") != want {
		t.Fatalf("audit actions:\n got %s\nwant %s", strings.Join(actions, " "), want)
	}
	// A counter per action on the admin endpoint's /metrics.
	res, err := http.Get("http://" + a.address + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Contains(metrics, []byte(`authgate_admin_changes_total{action="client.secret.rotate"}`)) {
		t.Fatalf("no admin change counter in /metrics")
	}
}

// Bad input for every command: a precise error and an exit code != 0.
func TestAdminCLIBadInput(t *testing.T) {
	useInProcessCaddy(t)
	dir := t.TempDir()
	tester := caddytest.NewTester(t)
	tester.InitServer(admCaddyfile(filepath.Join(dir, "a.db"), filepath.Join(dir, "audit.log")), "caddyfile")
	r := mustCLI(t, "client", "create", "--name", "victim")
	id := cliClientID.FindStringSubmatch(r.stdout)[1]
	secretID := ""
	{
		var got struct {
			Secrets []struct {
				ID string `json:"id"`
			} `json:"secrets"`
		}
		_ = json.Unmarshal([]byte(mustCLI(t, "client", "secrets", id, "--json").stdout), &got)
		secretID = got.Secrets[0].ID
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"client", "create"}, 2, "--name is required"},
		{[]string{"client", "create", "--name", "bad name"}, 2, "letters, digits"},
		{[]string{"client", "create", "--name", "x", "extra"}, 2, "want no arguments"},
		{[]string{"client", "create", "--name", "x", "--ttl", "0s"}, 2, "--ttl 0s"},
		{[]string{"client", "create", "--name", "x", "--ttl", "2147483648"}, 2, "1 to 2147483647"},
		{[]string{"client", "create", "--name", "x", "--ttl", "1.5s"}, 2, "whole seconds"},
		{[]string{"client", "create", "--name", "x", "--ttl", "soon"}, 2, "want a duration"},
		{[]string{"client", "create", "--name", "x", "--scope", "nope"}, 2, `scopes: "nope": not a scope of this issuer`},
		{[]string{"client", "create", "--name", "x", "--grant", "password"}, 2, `grant_types: "password": unsupported`},
		{[]string{"client", "create", "--name", "x", "--auth-method", "bogus_method"}, 2, `auth_methods: "bogus_method": unsupported`},
		{[]string{"client", "create", "--name", "x", "--format", "paseto"}, 2, "token_format: must be jwt or opaque"},
		{[]string{"client", "create", "--name", "x", "--allow-ip", "10.0.0.300"}, 2, `allow_ip: "10.0.0.300"`},
		{[]string{"client", "create", "--name", "x", "--deny-ip", "10.0.0.0/33"}, 2, `deny_ip: "10.0.0.0/33"`},
		{[]string{"client", "create", "--name", "x", "--redirect-uri", "javascript:alert(1)"}, 2, "redirect_uris"},
		{[]string{"client", "create", "--name", "x", "--issuer", "ftp://x"}, 2, "want the issuer URL"},
		{[]string{"client", "create", "--name", "x", "--issuer", "https://unknown.example"}, 3, `no issuer "https://unknown.example"`},
		{[]string{"client", "create", "--name", "x", "--bogus"}, 1, "unknown flag: --bogus"},
		{[]string{"client", "list", "extra"}, 2, "want no arguments"},
		{[]string{"client", "show"}, 2, "want ID"},
		{[]string{"client", "show", "nope"}, 3, `no client "nope"`},
		{[]string{"client", "update", id}, 2, "at least one field"},
		{[]string{"client", "update", "app", "--name", "x"}, 4, "read-only"},
		{[]string{"client", "update", id, "--ttl", "-5"}, 2, "--ttl -5"},
		{[]string{"client", "update", id, "--public"}, 2, "public: cannot change"},
		{[]string{"client", "enable"}, 2, "want ID"},
		{[]string{"client", "disable", "nope"}, 3, `no client "nope"`},
		{[]string{"client", "disable", "app"}, 4, "read-only"},
		{[]string{"client", "delete"}, 2, "one or more client IDs"},
		{[]string{"client", "delete", id, "nope"}, 3, `no client "nope"`},
		{[]string{"client", "delete", "app"}, 4, "read-only"},
		{[]string{"client", "rotate-secret"}, 2, "want ID"},
		{[]string{"client", "rotate-secret", id, "--expires", "2030-01-01T00:00:00Z"}, 2, "--expires needs --keep-current"},
		{[]string{"client", "rotate-secret", id, "--keep-current", "--expires", "tomorrow"}, 2, "RFC 3339"},
		{[]string{"client", "rotate-secret", id, "--keep-current", "--expires", "2001-01-01T00:00:00Z"}, 2, "not in the future"},
		{[]string{"client", "rotate-secret", id, "--description", "x"}, 2, "--description needs --keep-current"},
		{[]string{"client", "rotate-secret", "app"}, 4, "read-only"},
		{[]string{"client", "secrets"}, 2, "want ID"},
		{[]string{"client", "secrets", "nope"}, 3, `no client "nope"`},
		{[]string{"client", "delete-secret", id}, 2, "want ID SECRET_ID"},
		{[]string{"client", "delete-secret", id, "nope"}, 3, `has no secret "nope"`},
		{[]string{"client", "delete-secret", id, secretID}, 4, "is the current secret"},
		{[]string{"revoke"}, 2, "exactly one of --token, --jti, --client or --user"},
		{[]string{"revoke", "--jti", "a", "--user", "b"}, 2, "exactly one"},
		{[]string{"revoke", "--token", "garbage"}, 2, "token: not a valid"},
		{[]string{"revoke", "--client", "nope"}, 3, `no client "nope"`},
		{[]string{"revoke", "--user", " alice"}, 2, "surrounding spaces"},
		{[]string{"keys", "list", "extra"}, 2, "want no arguments"},
		{[]string{"keys", "rotate", "--now", "--issuer", "https://unknown.example"}, 3, "no issuer"},
		{[]string{"hash-secret", "--algorithm", "md5"}, 2, `--algorithm "md5"`},
		{[]string{"hash-secret", "extra"}, 2, "want no arguments"},
	}
	for _, c := range cases {
		r := authgateCLI(t, "", append(c.args, "--address", admAddress)...)
		if r.code != c.code || !strings.Contains(r.err, c.msg) {
			t.Errorf("caddy authgate %s: %s; want exit %d and %q", strings.Join(c.args, " "), r, c.code, c.msg)
		}
	}
	// Empty stdin for hash-secret; an unreachable admin endpoint.
	if r := authgateCLI(t, "", "hash-secret"); r.code != 2 || !strings.Contains(r.err, "no secret on standard input") {
		t.Errorf("hash-secret without input: %s", r)
	}
	if r := authgateCLI(t, "", "client", "list", "--address", "localhost:9799"); r.code != 1 || !strings.Contains(r.err, "performing request") {
		t.Errorf("unreachable admin endpoint: %s", r)
	}
	// Nothing above changed the client.
	if s := mustCLI(t, "client", "show", id).stdout; !strings.Contains(s, "disabled:      false") && !strings.Contains(s, "disabled:  false") && !strings.Contains(s, "false") {
		t.Errorf("client changed by refused commands: %q", s)
	}
}

// The admin API is served only on Caddy's admin endpoint, never on a site.
func TestAdminAPINotOnSitePort(t *testing.T) {
	useInProcessCaddy(t)
	dir := t.TempDir()
	tester := caddytest.NewTester(t)
	tester.InitServer(admCaddyfile(filepath.Join(dir, "a.db"), filepath.Join(dir, "audit.log")), "caddyfile")
	path := "/authgate/issuers/" + url.PathEscape(admBase) + "/clients"
	res, err := http.Get("http://" + admAddress + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(body, []byte(`"client_id": "app"`)) {
		t.Fatalf("admin endpoint: %d %s", res.StatusCode, body)
	}
	// Caddy's admin access controls guard the route: a cross-site page
	// (another Origin, or no-cors) cannot drive it from a browser.
	for h, v := range map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Mode": "no-cors"} {
		req, _ := http.NewRequest("POST", "http://"+admAddress+path, strings.NewReader(`{"name":"csrf"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(h, v)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 403 && res.StatusCode != 400 || bytes.Contains(body, []byte("client_secret")) {
			t.Fatalf("%s: %s on the admin endpoint: %d %s", h, v, res.StatusCode, body)
		}
	}
	if s := mustCLI(t, "client", "list").stdout; strings.Contains(s, "csrf") {
		t.Fatalf("a cross-site request created a client: %q", s)
	}
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, admBase+path, strings.NewReader(`{"name":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		r := issDo(t, tester.Client, req)
		if r.raw != "public" || strings.Contains(r.raw, "client_id") {
			t.Fatalf("%s %s on the site port: %d %q", method, path, r.status, r.raw)
		}
	}
}

// user add|passwd|list|show|disable|enable|delete through the CLI, with
// the password on standard input; config users are read-only.
func TestAdminCLIUsers(t *testing.T) {
	useInProcessCaddy(t)
	dir := t.TempDir()
	cfg := strings.Replace(admCaddyfile(filepath.Join(dir, "a.db"), filepath.Join(dir, "audit.log")),
		"\t\tkey_rotation 40s\n", "\t\tkey_rotation 40s\n\t\tuser root {\n\t\t\tpassword_hash "+admRootHash+"\n\t\t}\n\t\tscope_description orders:read \"Read your orders\"\n", 1)
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	if r := authgateCLI(t, "correct horse\n", "user", "add", "alice", "--claim", "email=alice@example.com", "--address", admAddress); r.code != 0 || !strings.Contains(r.stdout, "user alice added") {
		t.Fatalf("user add: %s", r)
	}
	if s := mustCLI(t, "user", "list").stdout; !strings.Contains(s, "alice") || !strings.Contains(s, "root") || !strings.Contains(s, "config") {
		t.Fatalf("user list: %q", s)
	}
	if s := mustCLI(t, "user", "show", "alice").stdout; !strings.Contains(s, "alice@example.com") || strings.Contains(s, "horse") {
		t.Fatalf("user show: %q", s)
	}
	if r := authgateCLI(t, "battery staple\n", "user", "passwd", "alice", "--address", admAddress); r.code != 0 {
		t.Fatalf("user passwd: %s", r)
	}
	mustCLI(t, "user", "disable", "alice")
	if s := mustCLI(t, "user", "show", "alice").stdout; !strings.Contains(s, "true") {
		t.Fatalf("disabled user: %q", s)
	}
	mustCLI(t, "user", "enable", "alice")
	// scope_description declares a scope run-time clients may get.
	mustCLI(t, "client", "create", "--name", "shop", "--scope", "orders:read")
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"", []string{"user", "add", "bob"}, 2, "no password on standard input"},
		{"short\n", []string{"user", "add", "bob"}, 2, "password: must be 8"},
		{"long enough\n", []string{"user", "add"}, 2, "want NAME"},
		{"long enough\n", []string{"user", "add", " bob"}, 2, "name:"},
		{"long enough\n", []string{"user", "add", "bob", "--claim", "novalue"}, 2, `--claim "novalue": want key=value`},
		{"long enough\n", []string{"user", "add", "bob", "--claim", "sub=root"}, 2, `claim "sub" is set by the issuer`},
		{"long enough\n", []string{"user", "add", "alice"}, 4, `user "alice" exists`},
		{"long enough\n", []string{"user", "add", "root"}, 4, "read-only"},
		{"long enough\n", []string{"user", "passwd", "nobody"}, 3, `no user "nobody"`},
		{"", []string{"user", "passwd", "alice"}, 2, "no password on standard input"},
		{"", []string{"user", "show"}, 2, "want NAME"},
		{"", []string{"user", "show", "nobody"}, 3, `no user "nobody"`},
		{"", []string{"user", "disable", "root"}, 4, "read-only"},
		{"", []string{"user", "enable", "nobody"}, 3, `no user "nobody"`},
		{"", []string{"user", "delete"}, 2, "one or more user names"},
		{"", []string{"user", "delete", "root"}, 4, "read-only"},
		{"", []string{"user", "list", "extra"}, 2, "want no arguments"},
	} {
		r := authgateCLI(t, c.stdin, append(c.args, "--address", admAddress)...)
		if r.code != c.code || !strings.Contains(r.err, c.msg) {
			t.Errorf("caddy authgate %s: %s; want exit %d and %q", strings.Join(c.args, " "), r, c.code, c.msg)
		}
	}
	mustCLI(t, "user", "delete", "alice")
	if r := authgateCLI(t, "", "user", "show", "alice", "--address", admAddress); r.code != 3 {
		t.Fatalf("deleted user: %s", r)
	}
}

// admRootHash is a well-formed argon2id hash (no password is meant to
// match it): the config user only has to exist.
const admRootHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$9ZKgZ1jAhZdDrhNbxLqsPbjkl+uMi+mMR3uykJTH1dM"
