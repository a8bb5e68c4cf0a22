package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/store"
)

// The people token tests: Caddy on 127.0.0.1:9500 with an issuer, a public
// client and a gateway (`header X-User sub`) in front of a route, on a real
// bbolt file. The codes are put into that file before Caddy opens it, as
// the authorization endpoint would issue them (the browser path is tested
// with Chromium elsewhere).
const (
	ptBase     = "http://127.0.0.1:9500"
	ptToken    = ptBase + "/oauth/token"
	ptRevoke   = ptBase + "/oauth/revoke"
	ptUserinfo = ptBase + "/oauth/userinfo"
	ptAPI      = ptBase + "/api/orders"
	ptRedirect = "http://127.0.0.1/cb"
	ptVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

func ptCaddyfile(db, passwordHash string) string {
	return boltGlobals(9500, db) + fmt.Sprintf(`http://127.0.0.1:9500 {
	authgate_issuer {
		issuer %s
		user alice {
			password_hash %s
			claim email alice@example.com
		}
		client mobile {
			public
			redirect_uri %s
			grant_types authorization_code refresh_token
			scopes openid email orders:read
		}
	}
	handle /api/* {
		authgate {
			issuer %s
			header X-User sub
		}
		respond "user={http.request.header.X-User}"
	}
	respond "upstream"
}
`, ptBase, passwordHash, ptRedirect, ptBase)
}

// ptHash is a cheap argon2id hash (the tests never sign in with it).
func ptHash() string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte("unused"), salt, 1, 8, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// ptPutCodes stores n codes for alice and the mobile client in the bbolt
// file (Caddy must not hold it) and returns them.
func ptPutCodes(t *testing.T, db string, n int) []string {
	t.Helper()
	st, err := store.OpenBolt(db, store.BoltOptions{PurgeEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sum := sha256.Sum256([]byte(ptVerifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	now := time.Now()
	var codes []string
	for i := range n {
		raw := make([]byte, 32)
		rand.Read(raw)
		code := base64.RawURLEncoding.EncodeToString(raw)
		h := sha256.Sum256([]byte(code))
		if err := st.PutCode(context.Background(), store.CodeRecord{
			Hash: h[:], ClientID: "mobile", RedirectURI: ptRedirect, CodeChallenge: challenge, Nonce: "nonce-1",
			Scopes: []string{"openid", "email", "orders:read"}, Subject: "alice", AuthTime: now,
			FamilyID: fmt.Sprintf("fam-%d-%d", now.UnixNano(), i), RedeemBy: now.Add(60 * time.Second), ExpiresAt: now.Add(10 * time.Minute),
		}); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
	}
	return codes
}

func ptExchange(t *testing.T, c *http.Client, code, verifier string) issResp {
	t.Helper()
	return issPost(t, c, ptToken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {ptRedirect}, "client_id": {"mobile"}}, "", "")
}

func ptRefresh(t *testing.T, c *http.Client, rt string) issResp {
	t.Helper()
	return issPost(t, c, ptToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"mobile"}}, "", "")
}

// ptAPIStatus calls the gateway's route with an access token.
func ptAPIStatus(t *testing.T, c *http.Client, at string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", ptAPI, nil)
	req.Header.Set("Authorization", "Bearer "+at)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func TestPeopleTokensEndToEnd(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "people.db")
	codes := ptPutCodes(t, db, 3)
	tester := issStart(t, ptCaddyfile(db, ptHash()))
	c := tester.Client

	// PKCE with a wrong verifier fails (and burns the code).
	issWantError(t, ptExchange(t, c, codes[1], strings.Repeat("x", 43)), 400, "invalid_grant")
	issWantError(t, ptExchange(t, c, codes[1], ptVerifier), 400, "invalid_grant")

	// The code is exchanged; the access token passes the gateway as alice.
	r := ptExchange(t, c, codes[0], ptVerifier)
	if r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	at1, rt1, idt := r.body["access_token"].(string), r.body["refresh_token"].(string), r.body["id_token"].(string)
	if _, ic := issClaims(t, idt); ic["sub"] != "alice" || ic["aud"] != "mobile" || ic["nonce"] != "nonce-1" || ic["email"] != "alice@example.com" {
		t.Fatalf("ID token claims %v", ic)
	}
	if st, body := ptAPIStatus(t, c, at1); st != 200 || body != "user=alice" {
		t.Fatalf("gateway with the access token: %d %q", st, body)
	}
	req, _ := http.NewRequest("GET", ptUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+at1)
	if ui := issDo(t, c, req); ui.status != 200 || ui.body["sub"] != "alice" || ui.body["email"] != "alice@example.com" {
		t.Fatalf("userinfo: %d %s", ui.status, ui.raw)
	}
	// The ID token is no access token at the gateway.
	if st, _ := ptAPIStatus(t, c, idt); st != 401 {
		t.Fatalf("gateway with the ID token: %d", st)
	}

	// Refresh rotates: a new refresh token, the previous access token is
	// refused by the gateway at once.
	r = ptRefresh(t, c, rt1)
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	at2, rt2 := r.body["access_token"].(string), r.body["refresh_token"].(string)
	if rt2 == rt1 {
		t.Fatal("refresh token not rotated")
	}
	if st, _ := ptAPIStatus(t, c, at1); st != 401 {
		t.Fatalf("previous access token after refresh: %d", st)
	}
	if st, body := ptAPIStatus(t, c, at2); st != 200 || body != "user=alice" {
		t.Fatalf("new access token: %d %q", st, body)
	}

	// Replaying the spent refresh token revokes the family: the gateway
	// refuses the family's access token, the live refresh token is dead.
	issWantError(t, ptRefresh(t, c, rt1), 400, "invalid_grant")
	if st, _ := ptAPIStatus(t, c, at2); st != 401 {
		t.Fatalf("the family's access token after reuse: %d", st)
	}
	issWantError(t, ptRefresh(t, c, rt2), 400, "invalid_grant")

	// RFC 7009: revoking a refresh token revokes its family.
	r = ptExchange(t, c, codes[2], ptVerifier)
	if r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	at3, rt3 := r.body["access_token"].(string), r.body["refresh_token"].(string)
	if rv := issPost(t, c, ptRevoke, url.Values{"token": {rt3}, "client_id": {"mobile"}}, "", ""); rv.status != 200 {
		t.Fatalf("revoke: %d %s", rv.status, rv.raw)
	}
	if st, _ := ptAPIStatus(t, c, at3); st != 401 {
		t.Fatalf("access token after its refresh token was revoked: %d", st)
	}
}

// TestPeopleTokensConcurrency: one code redeemed by 50 clients at once over
// HTTP, then one refresh token used by 50 at once: one success each.
func TestPeopleTokensConcurrency(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "people.db")
	codes := ptPutCodes(t, db, 1)
	tester := issStart(t, ptCaddyfile(db, ptHash()))
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	_ = tester
	race := func(name string, do func() issResp) issResp {
		winner, ok, refused := testutil.Race(50, do, func(r issResp) bool { return r.status == 200 },
			func(r issResp) bool { return r.status == 400 && r.body["error"] == "invalid_grant" })
		if ok != 1 || refused != 49 {
			t.Fatalf("%s: %d successes, %d invalid_grant; want 1 and 49", name, ok, refused)
		}
		return winner
	}
	w := race("code", func() issResp { return ptExchange(t, c, codes[0], ptVerifier) })
	// The 49 replays revoked what the winner got.
	if st, _ := ptAPIStatus(t, c, w.body["access_token"].(string)); st != 401 {
		t.Fatalf("winner's access token after 49 replays: %d", st)
	}
	// (When a replay came while the winner was served, its answer has no
	// refresh token: none was stored.)
	if rt, ok := w.body["refresh_token"].(string); ok {
		issWantError(t, ptRefresh(t, c, rt), 400, "invalid_grant")
	}

	// A fresh family for the refresh race (a second Caddy start on the file).
	tester.InitServer(`{
	skip_install_trust
	admin localhost:2999
	http_port 9500
}
http://127.0.0.1:9500 {
	respond "nothing here"
}`, "caddyfile")
	codes = ptPutCodes(t, db, 1)
	issStart(t, ptCaddyfile(db, ptHash()))
	// c's keep-alive connections went to the servers the reloads stopped: a
	// POST on one that the old server closes meanwhile fails with EOF (and
	// is not retried), which says nothing about the issuer.
	c.CloseIdleConnections()
	r := ptExchange(t, c, codes[0], ptVerifier)
	if r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	rt := r.body["refresh_token"].(string)
	race("refresh", func() issResp { return ptRefresh(t, c, rt) })
}
