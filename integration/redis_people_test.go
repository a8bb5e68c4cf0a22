package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
)

// Ports of the people-on-Redis test: the shared issuer URL (as behind a
// load balancer; nothing listens on it) 9710, instance i on 9711+i, its
// admin endpoint on 9731+i; Redis on 6450-6499. This test runs beside the
// in-process ones: none of them uses these ports (DPoP's are 9700-9701).
const (
	rpPublic   = "http://127.0.0.1:9710"
	rpFirst    = 9711
	rpCallback = "http://127.0.0.1:9740/cb" // never called: the test reads the redirect
	rpVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

func rpCaddyfile(port, admin int, redisAddr, aliceHash string) string {
	return redisGlobals(admin, redisAddr, "rp:") + fmt.Sprintf(`http://:%d {
	authgate_issuer {
		issuer %s
		user alice {
			password_hash %s
			claim email alice@example.com
		}
		client web {
			secret web-secret
			redirect_uri %s
			grant_types authorization_code refresh_token
			scopes openid email read
			skip_consent
		}
		client app {
			secret {env.RI_SECRET}
			scopes read
		}
	}
	route /api/* {
		authgate {
			issuer %s
			header X-User sub
		}
		respond "user={http.request.header.X-User}"
	}
}
`, port, rpPublic, aliceHash, rpCallback, rpPublic)
}

// rpSignIn sends alice through in's authorization endpoint and login form
// (an HTTP client with a cookie jar) and returns the code.
func rpSignIn(t *testing.T, in *instance) string {
	t.Helper()
	code, status, raw := rpSignInAs(t, in, "alice", "alice-password")
	if code == "" {
		t.Fatalf("sign-in at %s: %d %s", in.name, status, raw)
	}
	return code
}

// rpSignInAs signs user in at in; the code, or "" and the login answer.
func rpSignInAs(t *testing.T, in *instance, user, password string) (string, int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {rpCallback},
		"scope": {"openid email read"}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {siChallenge(rpVerifier)}, "code_challenge_method": {"S256"}}
	page := issDo(t, c, mustReq(t, http.MethodGet, in.base+"/oauth/authorize?"+q.Encode()))
	if page.status != 200 || siHidden(page.raw, "csrf") == "" {
		t.Fatalf("login page at %s: %d %s", in.name, page.status, page.raw)
	}
	f := url.Values{"csrf": {siHidden(page.raw, "csrf")}, "request": {siHidden(page.raw, "request")},
		"username": {user}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, in.base+"/oauth/login", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	done := issDo(t, c, req)
	loc, err := url.Parse(done.header.Get("Location"))
	if err != nil || done.status != http.StatusSeeOther || loc.Query().Get("code") == "" {
		return "", done.status, done.raw
	}
	return loc.Query().Get("code"), done.status, ""
}

// rpTokens posts a token request for the web client to in.
func rpTokens(t *testing.T, in *instance, f url.Values) issResp {
	t.Helper()
	return issPost(t, riClient, in.base+"/oauth/token", f, "web", "web-secret")
}

func rpExchange(t *testing.T, in *instance, code string) issResp {
	t.Helper()
	return rpTokens(t, in, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {rpVerifier}, "redirect_uri": {rpCallback}})
}

func rpRefresh(t *testing.T, in *instance, rt string) issResp {
	t.Helper()
	return rpTokens(t, in, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// rpAdmin calls in's admin API.
func rpAdmin(t *testing.T, in *instance, method, path, body string) issResp {
	t.Helper()
	admin := fmt.Sprintf("http://127.0.0.1:%d", in.port+20)
	req, _ := http.NewRequest(method, admin+"/authgate/issuers/"+url.PathEscape(rpPublic)+path, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	return issDo(t, riClient, req)
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// TestRedisInstancesPeople: two Caddy processes on one Redis. alice signs in
// on A (authorization endpoint and login form) and her refresh happens on
// B; the spent refresh token replayed at A revokes the family, refused on
// both within 1 s; one refresh token sent to A and B at once has exactly one
// winner (every round); a client created through A's admin API gets tokens
// at B within 1 s and, disabled through A, is refused at B within 1 s; a
// user created through A's admin API signs in at B and, disabled through
// A, is refused at B within 1 s; a DPoP proof used at A's gateway is
// refused as a replay at B's.
func TestRedisInstancesPeople(t *testing.T) {
	t.Parallel() // child Caddy processes only: beside the in-process tests
	a, b := launchAlicePair(t, redisserver.Options{FirstPort: 6450, LastPort: 6499}, rpFirst, rpCaddyfile)
	ins := [2]*instance{a, b}

	// Signed in on A, refreshed on B; every token works at both gateways.
	first := rpExchange(t, a, rpSignIn(t, a))
	at0, rt0 := str(first.body, "access_token"), str(first.body, "refresh_token")
	if first.status != 200 || at0 == "" || rt0 == "" {
		t.Fatalf("code exchange at A: %d %s", first.status, first.raw)
	}
	second := rpRefresh(t, b, rt0)
	at1, rt1 := str(second.body, "access_token"), str(second.body, "refresh_token")
	if second.status != 200 || at1 == "" || rt1 == "" || rt1 == rt0 {
		t.Fatalf("refresh at B of A's token: %d %s", second.status, second.raw)
	}
	for _, in := range ins {
		if s, body := ptAPIStatusAt(t, in, at1); s != 200 || body != "user=alice" {
			t.Fatalf("B's refreshed token at %s: %d %q", in.name, s, body)
		}
	}
	// The refresh spent rt0 and revoked at0 (rotation revokes the family's
	// previous access token), seen by A within 1 s.
	if waitFor(time.Second, func() bool { s, _ := ptAPIStatusAt(t, a, at0); return s == 401 }) < 0 {
		t.Fatal("the access token replaced by B's refresh is still accepted at A after 1s")
	}
	// rt0 again, at A: reuse. The family is revoked: B's tokens are
	// refused at A and B within 1 s, rt1 no longer refreshes.
	if r := rpRefresh(t, a, rt0); r.status != 400 || str(r.body, "error") != "invalid_grant" {
		t.Fatalf("reuse of a spent refresh token at A: %d %s", r.status, r.raw)
	}
	for _, in := range ins {
		took := waitFor(time.Second, func() bool { s, _ := ptAPIStatusAt(t, in, at1); return s == 401 })
		if took < 0 {
			t.Fatalf("family revoked at A: B's access token still accepted at %s after 1s", in.name)
		}
		t.Logf("family revoked at A: refused at %s after %v", in.name, took.Round(time.Millisecond))
	}
	if r := rpRefresh(t, b, rt1); r.status != 400 {
		t.Fatalf("refresh in a revoked family at B: %d %s", r.status, r.raw)
	}

	// One refresh token at A and B at the same instant: exactly one
	// winner, every round.
	for round := range 8 {
		r := rpExchange(t, b, rpSignIn(t, ins[round%2]))
		rt := str(r.body, "refresh_token")
		if r.status != 200 || rt == "" {
			t.Fatalf("round %d: exchange: %d %s", round, r.status, r.raw)
		}
		var wg sync.WaitGroup
		var res [2]issResp
		start := make(chan struct{})
		for i, in := range ins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res[i] = rpRefresh(t, in, rt)
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, x := range res {
			switch {
			case x.status == 200:
				wins++
			case x.status == 400 && str(x.body, "error") == "invalid_grant":
			default:
				t.Fatalf("round %d at %s: %d %s", round, ins[i].name, x.status, x.raw)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners of one refresh token at A and B (%d, %d)", round, wins, res[0].status, res[1].status)
		}
	}

	// A client created through A's admin API gets tokens at B within 1 s.
	created := rpAdmin(t, a, http.MethodPost, "/clients", `{"name":"partner","scopes":["read"],"grant_types":["client_credentials"]}`)
	id, secret := str(created.body, "client_id"), str(created.body, "client_secret")
	if created.status != 201 || id == "" || secret == "" {
		t.Fatalf("admin API create at A: %d %s", created.status, created.raw)
	}
	tokenAt := func(in *instance) issResp {
		return issPost(t, riClient, in.base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
	}
	var partnerTok string
	took := waitFor(time.Second, func() bool {
		r := tokenAt(b)
		partnerTok = str(r.body, "access_token")
		return r.status == 200
	})
	if took < 0 {
		t.Fatal("client created through A's admin API: no token at B within 1s")
	}
	t.Logf("client created at A issued at B after %v", took.Round(time.Millisecond))
	if s, _ := ptAPIStatusAt(t, b, partnerTok); s != 200 {
		t.Fatalf("its token at B's gateway: %d", s)
	}
	// Disabled through A: refused at B's token endpoint and gateway
	// within 1 s.
	if r := rpAdmin(t, a, http.MethodPatch, "/clients/"+id, `{"disabled":true}`); r.status != 200 {
		t.Fatalf("admin API disable at A: %d %s", r.status, r.raw)
	}
	took = waitFor(time.Second, func() bool {
		s, _ := ptAPIStatusAt(t, b, partnerTok)
		return tokenAt(b).status == 401 && s == 401
	})
	if took < 0 {
		t.Fatal("client disabled through A's admin API: still served at B after 1s")
	}
	t.Logf("client disabled at A refused at B after %v", took.Round(time.Millisecond))

	// A user created through A's admin API signs in at B at once;
	// disabled through A, her token is refused at B within 1 s (the
	// not-before that disabling records is published) and she can no
	// longer sign in at B.
	if r := rpAdmin(t, a, http.MethodPost, "/users", `{"name":"dave","password":"dave-password-1"}`); r.status != 201 {
		t.Fatalf("admin API user create at A: %d %s", r.status, r.raw)
	}
	code, status, raw := rpSignInAs(t, b, "dave", "dave-password-1")
	if code == "" {
		t.Fatalf("user created at A, sign-in at B: %d %s", status, raw)
	}
	dr := rpExchange(t, b, code)
	daveTok := str(dr.body, "access_token")
	if s, body := ptAPIStatusAt(t, b, daveTok); dr.status != 200 || s != 200 || body != "user=dave" {
		t.Fatalf("dave's token at B: %d %d %q", dr.status, s, body)
	}
	if r := rpAdmin(t, a, http.MethodPatch, "/users/dave", `{"disabled":true}`); r.status != 200 {
		t.Fatalf("admin API user disable at A: %d %s", r.status, r.raw)
	}
	took = waitFor(time.Second, func() bool { s, _ := ptAPIStatusAt(t, b, daveTok); return s == 401 })
	if took < 0 {
		t.Fatal("user disabled through A's admin API: her token still accepted at B after 1s")
	}
	t.Logf("user disabled at A: her token refused at B after %v", took.Round(time.Millisecond))
	if code, status, _ := rpSignInAs(t, b, "dave", "dave-password-1"); code != "" || status == http.StatusSeeOther {
		t.Fatalf("disabled user signed in at B: %d", status)
	}

	// A DPoP proof used at A's gateway is a replay at B's (both behind one
	// load balancer: the same Host, so the same htu): the proof jtis are
	// in Redis, not in a per-process cache.
	k := dpNewKey(t)
	viaLB := func(in *instance, method, path, scheme, tok, proof string, form url.Values) issResp {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, in.base+path, body)
		req.Host = strings.TrimPrefix(rpPublic, "http://")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("app", "ri-secret")
		} else {
			req.Header.Set("Authorization", scheme+" "+tok)
		}
		req.Header.Set("DPoP", proof)
		return issDo(t, riClient, req)
	}
	r := viaLB(a, "POST", "/oauth/token", "", "", k.proof(t, "POST", rpPublic+"/oauth/token", "", nil), url.Values{"grant_type": {"client_credentials"}})
	dtok := str(r.body, "access_token")
	if r.status != 200 || str(r.body, "token_type") != "DPoP" {
		t.Fatalf("DPoP token at A: %d %s", r.status, r.raw)
	}
	api := rpPublic + "/api/orders"
	proof := k.proof(t, "GET", api, dtok, nil)
	if r := viaLB(a, "GET", "/api/orders", "DPoP", dtok, proof, nil); r.status != 200 {
		t.Fatalf("DPoP call at A: %d %s", r.status, r.raw)
	}
	if r := viaLB(b, "GET", "/api/orders", "DPoP", dtok, proof, nil); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_dpop_proof") {
		t.Fatalf("A's proof replayed at B: %d %q %s", r.status, r.header.Get("WWW-Authenticate"), r.raw)
	}
	if r := viaLB(b, "GET", "/api/orders", "DPoP", dtok, k.proof(t, "GET", api, dtok, nil), nil); r.status != 200 {
		t.Fatalf("a fresh proof at B: %d %s", r.status, r.raw)
	}
}

// ptAPIStatusAt calls in's gateway route with an access token.
func ptAPIStatusAt(t *testing.T, in *instance, at string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", in.base+"/api/orders", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	status, body, err := riDo(req)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}
