package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
	"github.com/authgate/caddy-authgate/token"
)

type adminEnv struct {
	*testEnv
	api    *AdminAPI
	mu     sync.Mutex
	events []AuditEvent
}

func newAdminEnv(t *testing.T, mutate func(*Config)) *adminEnv {
	t.Helper()
	e := &adminEnv{testEnv: newEnv(t, mutate)}
	e.api = &AdminAPI{
		Issuers: func() ([]*Issuer, error) { return []*Issuer{e.iss}, nil },
		Audit: func(_ *http.Request, ev AuditEvent) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		},
		Users: AdminUsers,
	}
	return e
}

type adminResp struct {
	status int
	body   map[string]any
	raw    string
}

// call sends an admin request to /authgate/issuers/<issuer>/<rest>.
func (e *adminEnv) call(method, rest, body string) adminResp {
	e.t.Helper()
	return e.callPath(method, AdminPrefix+"issuers/"+url.PathEscape(testIss)+"/"+rest, body)
}

func (e *adminEnv) callPath(method, path, body string) adminResp {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	out := adminResp{status: w.Code, raw: w.Body.String()}
	if err := json.Unmarshal(w.Body.Bytes(), &out.body); err != nil {
		e.t.Fatalf("%s %s: not JSON: %q", method, path, w.Body.String())
	}
	return out
}

func (e *adminEnv) must(status int, r adminResp) adminResp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

func (e *adminEnv) create(body string) (id, secret string) {
	e.t.Helper()
	r := e.must(201, e.call("POST", "clients", body))
	id, _ = r.body["client_id"].(string)
	secret, _ = r.body["client_secret"].(string)
	return id, secret
}

// admitted runs the in-process gateway's check on a JWT of ours.
func (e *adminEnv) admitted(tok string) error {
	e.t.Helper()
	_, c := decodeJWT(e.t.(*testing.T), tok)
	cl := &token.Claims{Issuer: c["iss"].(string), JTI: c["jti"].(string), ClientID: c["client_id"].(string),
		Subject: c["sub"].(string), IssuedAt: int64(c["iat"].(float64))}
	if s, ok := c["scope"].(string); ok && s != "" {
		cl.Scopes = strings.Fields(s)
	}
	return e.iss.Admit(cl, netip.MustParseAddr("10.1.2.3"))
}

func TestAdminCreateShowList(t *testing.T) {
	e := newAdminEnv(t, nil)
	id, secret := e.create(`{"name":"partner-a","scopes":["read"],"access_token_ttl":60,"allow_ip":["10.0.0.0/8"]}`)
	if len(id) != 32 || len(secret) < 43 {
		t.Fatalf("generated id %q / secret of %d chars", id, len(secret))
	}
	// The token works at once (no reload, no poll).
	tok := e.token(id, secret, nil)
	if in := e.introspect(tok, id, secret); in["active"] != true || in["scope"] != "read" {
		t.Fatalf("introspection: %v", in)
	}
	if _, c := decodeJWT(t, tok); int64(c["exp"].(float64))-int64(c["iat"].(float64)) != 60 {
		t.Fatalf("ttl not applied: %v", c)
	}
	show := e.must(200, e.call("GET", "clients/"+id, ""))
	if strings.Contains(show.raw, secret) || strings.Contains(show.raw, "sha256:") || show.body["client_secret"] != nil {
		t.Fatalf("show leaks the secret or its hash: %s", show.raw)
	}
	if show.body["name"] != "partner-a" || show.body["source"] != "store" {
		t.Fatalf("show: %s", show.raw)
	}
	list := e.must(200, e.call("GET", "clients", ""))
	var ids []string
	for _, c := range list.body["clients"].([]any) {
		m := c.(map[string]any)
		ids = append(ids, m["client_id"].(string))
		if m["client_id"] == "app" && (m["source"] != "config" || m["read_only"] != true) {
			t.Fatalf("config client: %v", m)
		}
	}
	if !slices.Contains(ids, id) || !slices.Contains(ids, "app") || strings.Contains(list.raw, secret) {
		t.Fatalf("list: %s", list.raw)
	}
	// Audit: one event, no secret.
	if len(e.events) != 1 || e.events[0].Action != "client.create" || e.events[0].Resource != id ||
		!strings.HasPrefix(e.events[0].Actor, "addr:") || strings.Contains(fmt.Sprint(e.events), secret) {
		t.Fatalf("audit: %+v", e.events)
	}
}

func TestAdminBadInput(t *testing.T) {
	e := newAdminEnv(t, nil)
	id, _ := e.create(`{"name":"x"}`)
	big := `{"name":"` + strings.Repeat("a", maxAdminBody) + `"}`
	cases := []struct {
		method, rest, body string
		status             int
		field, msg         string
	}{
		{"POST", "clients", `{"name":"x","colour":"red"}`, 400, "colour", "unknown field"},
		{"POST", "clients", big, 400, "", "body exceeds 65536 bytes"},
		{"POST", "clients", `{"name":"x"} {}`, 400, "", "data after the object"},
		{"POST", "clients", `{"name":`, 400, "", "malformed JSON"},
		{"POST", "clients", `[]`, 400, "", "must be"},
		{"POST", "clients", `{}`, 400, "name", "required"},
		{"POST", "clients", `{"name":"bad name!"}`, 400, "name", "letters, digits"},
		{"POST", "clients", `{"name":"` + strings.Repeat("n", 65) + `"}`, 400, "name", "1 to 64"},
		{"POST", "clients", `{"name":"x","access_token_ttl":2147483648}`, 400, "access_token_ttl", "1 to 2147483647"},
		{"POST", "clients", `{"name":"x","access_token_ttl":-1}`, 400, "access_token_ttl", "1 to 2147483647"},
		{"POST", "clients", `{"name":"x","access_token_ttl":1.5}`, 400, "access_token_ttl", "whole number"},
		{"POST", "clients", `{"name":"x","access_token_ttl":"60"}`, 400, "access_token_ttl", "whole number"},
		{"POST", "clients", `{"name":"x","refresh_token_ttl":1e99}`, 400, "refresh_token_ttl", "whole number"},
		{"POST", "clients", `{"name":"x","allow_ip":["10.0.0.300"]}`, 400, "allow_ip", `"10.0.0.300"`},
		{"POST", "clients", `{"name":"x","deny_ip":["10.0.0.9-10.0.0.1"]}`, 400, "deny_ip", `"10.0.0.9-10.0.0.1"`},
		{"POST", "clients", `{"name":"x","scopes":["unknown-scope"]}`, 400, "scopes", "not a scope of this issuer"},
		{"POST", "clients", `{"name":"x","scopes":["bad\"scope"]}`, 400, "scopes", "RFC 6749"},
		{"POST", "clients", `{"name":"x","scopes":"read"}`, 400, "scopes", "array of strings"},
		{"POST", "clients", `{"name":"x","grant_types":["password"]}`, 400, "grant_types", "unsupported"},
		{"POST", "clients", `{"name":"x","auth_methods":["bogus_method"]}`, 400, "auth_methods", "unsupported"},
		{"POST", "clients", `{"name":"x","token_format":"paseto"}`, 400, "token_format", "jwt or opaque"},
		{"POST", "clients", `{"name":"x","redirect_uris":["javascript:alert(1)"]}`, 400, "redirect_uris", "not allowed"},
		{"POST", "clients", `{"name":"x","grant_types":["authorization_code"]}`, 400, "", "need a redirect_uri"},
		{"POST", "clients", `{"name":"x","public":true,"grant_types":["client_credentials"]}`, 400, "", "public client may not"},
		{"POST", "clients", `{"name":"x","redirect_uris":["https://app/cb#frag"]}`, 400, "redirect_uris", "fragment"},
		{"POST", "clients", `{"name":"x","redirect_uris":["/relative"]}`, 400, "redirect_uris", "absolute"},
		{"POST", "clients", `{"name":"x","jwks_uri":"http://app/jwks"}`, 400, "jwks_uri", "https"},
		{"POST", "clients", `{"name":"x","disabled":"yes"}`, 400, "disabled", "true or false"},
		{"PATCH", "clients/app", `{"disabled":true}`, 409, "", "read-only"},
		{"DELETE", "clients/app", ``, 409, "", "read-only"},
		{"POST", "clients/app/secrets", `{}`, 409, "", "read-only"},
		{"PATCH", "clients/nope", `{"disabled":true}`, 404, "", "no client"},
		{"GET", "clients/nope", ``, 404, "", "no client"},
		{"DELETE", "clients?id=" + id + "&id=nope", ``, 404, "", "no client \"nope\""},
		{"DELETE", "clients", ``, 400, "id", "at least one"},
		{"PUT", "clients/" + id, `{}`, 405, "", "not allowed"},
		{"PATCH", "clients/" + id, `{"public":true}`, 400, "public", "cannot change"},
		{"PATCH", "clients/" + id, `{"audience":["api\u0000admin"]}`, 400, "audience", "control"},
		{"PATCH", "clients/" + id, `{"audience":["api\r\nX-Admin: 1"]}`, 400, "audience", "control"},
		{"POST", "clients/" + id + "/secrets", `{"expires":"2031-01-01T00:00:00Z"}`, 400, "expires", "only with keep_current"},
		{"POST", "clients/" + id + "/secrets", `{"keep_current":true,"expires":"tomorrow"}`, 400, "expires", "RFC 3339"},
		{"POST", "clients/" + id + "/secrets", `{"keep_current":true,"expires":"2000-01-01T00:00:00Z"}`, 400, "expires", "not in the future"},
		{"POST", "clients/" + id + "/secrets", `{"keep_current":true,"description":"a\u0000b"}`, 400, "description", "control"},
		{"POST", "clients/" + id + "/secrets", `{"description":"x"}`, 400, "description", "only with keep_current"},
		{"DELETE", "clients/" + id + "/secrets/nope", ``, 404, "", "no secret"},
		{"POST", "revocations", `{}`, 400, "", "exactly one"},
		{"POST", "revocations", `{"jti":"a","user":"b"}`, 400, "", "exactly one"},
		{"POST", "revocations", `{"token":"garbage"}`, 400, "token", "not a valid"},
		{"POST", "revocations", `{"client_id":"nope"}`, 404, "", "no client"},
		{"POST", "revocations", `{"user":" alice"}`, 400, "user", "surrounding spaces"},
		{"POST", "keys/rotate", `{}`, 400, "now", "must be true"},
		{"GET", "nothing", ``, 404, "", "no such resource"},
	}
	for _, c := range cases {
		r := e.call(c.method, c.rest, c.body)
		if r.status != c.status || !strings.Contains(r.body["error"].(string), c.msg) || (r.body["field"] != nil && r.body["field"] != c.field) || (c.field != "" && r.body["field"] != c.field) {
			t.Errorf("%s %s %.60s: %d %.300s; want %d field %q containing %q", c.method, c.rest, c.body, r.status, r.raw, c.status, c.field, c.msg)
		}
	}
	// A body that does not say it is JSON (an HTML form, text/plain).
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
		r := httptest.NewRequest("POST", AdminPrefix+"issuers/"+url.PathEscape(testIss)+"/clients", strings.NewReader(`{"name":"csrf"}`))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		e.api.ServeHTTP(w, r)
		if w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %d %s", ct, w.Code, w.Body)
		}
	}
	// Another issuer's URL, or none.
	if r := e.callPath("GET", AdminPrefix+"issuers/"+url.PathEscape("https://other.example")+"/clients", ""); r.status != 404 {
		t.Errorf("unknown issuer: %d %s", r.status, r.raw)
	}
	if r := e.callPath("GET", AdminPrefix+"elsewhere", ""); r.status != 404 {
		t.Errorf("unknown resource: %d %s", r.status, r.raw)
	}
	// Nothing was changed by any refused request: one event (the create).
	if len(e.events) != 1 {
		t.Fatalf("refused requests were audited: %+v", e.events)
	}
}

func TestAdminEditDisableDelete(t *testing.T) {
	e := newAdminEnv(t, nil)
	id, secret := e.create(`{"name":"svc","scopes":["read","write"]}`)
	tok := e.token(id, secret, nil)
	if err := e.admitted(tok); err != nil {
		t.Fatal(err)
	}
	// Edit: withdrawing a scope refuses tokens carrying it.
	r := e.must(200, e.call("PATCH", "clients/"+id, `{"scopes":["read"],"token_format":"opaque","deny_ip":["192.0.2.0/24"]}`))
	if r.body["token_format"] != "opaque" || r.body["name"] != "svc" {
		t.Fatalf("patch: %s", r.raw)
	}
	if err := e.admitted(tok); err != ErrScopeWithdrawn {
		t.Fatalf("after withdrawing a scope: %v", err)
	}
	e.must(200, e.call("PATCH", "clients/"+id, `{"scopes":["read","write"],"token_format":"jwt"}`))
	tok = e.token(id, secret, nil)
	// Disable: refused at the token endpoint, by introspection and by the
	// in-process gateway at once.
	e.must(200, e.call("PATCH", "clients/"+id, `{"disabled":true}`))
	if err := e.admitted(tok); err != ErrClientDisabled {
		t.Fatalf("disabled client's token: %v", err)
	}
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, id, secret), 401, errInvalidClient)
	e.must(200, e.call("PATCH", "clients/"+id, `{"disabled":false}`))
	if err := e.admitted(tok); err != nil {
		t.Fatalf("re-enabled: %v", err)
	}
	// Delete several at once.
	id2, _ := e.create(`{"name":"svc2"}`)
	d := e.must(200, e.call("DELETE", "clients?id="+id+"&id="+id2, ""))
	if fmt.Sprint(d.body["deleted"]) != fmt.Sprint([]any{id, id2}) {
		t.Fatalf("deleted: %s", d.raw)
	}
	if err := e.admitted(tok); err != ErrUnknownClient {
		t.Fatalf("deleted client's token: %v", err)
	}
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, id, secret), 401, errInvalidClient)
	e.must(404, e.call("GET", "clients/"+id, ""))
	var actions []string
	for _, ev := range e.events {
		actions = append(actions, ev.Action)
	}
	want := "client.create client.update client.update client.disable client.enable client.create client.delete client.delete"
	if strings.Join(actions, " ") != want {
		t.Fatalf("audit actions %v, want %s", actions, want)
	}
}

func TestAdminRotateKeepCurrent(t *testing.T) {
	e := newAdminEnv(t, nil)
	id, old := e.create(`{"name":"rot"}`)
	expires := e.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := e.must(200, e.call("POST", "clients/"+id+"/secrets", `{"keep_current":true,"expires":"`+expires+`","description":"until partners switch"}`))
	fresh := r.body["client_secret"].(string)
	if fresh == "" || fresh == old {
		t.Fatalf("rotation: %s", r.raw)
	}
	e.token(id, old, nil)
	e.token(id, fresh, nil)
	list := e.must(200, e.call("GET", "clients/"+id+"/secrets", ""))
	secrets := list.body["secrets"].([]any)
	if len(secrets) != 2 || strings.Contains(list.raw, old) || strings.Contains(list.raw, fresh) || strings.Contains(list.raw, "sha256") {
		t.Fatalf("secrets: %s", list.raw)
	}
	keptID := ""
	for _, s := range secrets {
		m := s.(map[string]any)
		if m["current"] == false {
			keptID = m["id"].(string)
			if m["description"] != "until partners switch" || m["expires"] != expires {
				t.Fatalf("kept secret: %v", m)
			}
		}
	}
	// The kept secret stops at its expiry.
	e.clock.Advance(time.Hour)
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, id, old), 401, errInvalidClient)
	e.token(id, fresh, nil)
	// Deleting a kept secret; the current one cannot be.
	e.clock.Advance(-time.Minute)
	e.must(200, e.call("DELETE", "clients/"+id+"/secrets/"+keptID, ""))
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, id, old), 401, errInvalidClient)
	cur := e.must(200, e.call("GET", "clients/"+id+"/secrets", "")).body["secrets"].([]any)[0].(map[string]any)["id"].(string)
	if r := e.call("DELETE", "clients/"+id+"/secrets/"+cur, ""); r.status != 409 || !strings.Contains(r.raw, "current secret") {
		t.Fatalf("deleting the current secret: %d %s", r.status, r.raw)
	}
	// Without keep_current the old secret stops at once; the default
	// expiry applies when keep_current names none.
	r = e.must(200, e.call("POST", "clients/"+id+"/secrets", `{}`))
	newer := r.body["client_secret"].(string)
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, id, fresh), 401, errInvalidClient)
	e.token(id, newer, nil)
	r = e.must(200, e.call("POST", "clients/"+id+"/secrets", `{"keep_current":true}`))
	for _, s := range r.body["secrets"].([]any) {
		m := s.(map[string]any)
		if m["current"] == false {
			exp, _ := time.Parse(time.RFC3339, m["expires"].(string))
			if !exp.Equal(e.clock.Now().Add(DefaultRotatedSecretTTL)) {
				t.Fatalf("default kept expiry %v", exp)
			}
		}
	}
	for _, ev := range e.events {
		if strings.Contains(fmt.Sprint(ev), old) || strings.Contains(fmt.Sprint(ev), fresh) || strings.Contains(fmt.Sprint(ev), newer) {
			t.Fatalf("audit event carries a secret: %+v", ev)
		}
	}
}

// Two rotations of one client at once leave one current secret and lose
// none: with keep_current both old current secrets are kept, without it
// exactly the winner's secret is left.
func TestAdminConcurrentRotations(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			e := newAdminEnv(t, nil)
			id, first := e.create(`{"name":"race"}`)
			body := fmt.Sprintf(`{"keep_current":%v}`, keep)
			stored := 1
			for round := 0; round < 10; round++ {
				var wg sync.WaitGroup
				got := make([]string, 2)
				for n := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := e.call("POST", "clients/"+id+"/secrets", body)
						if r.status == 200 {
							got[n] = r.body["client_secret"].(string)
						}
					}()
				}
				wg.Wait()
				rec, err := e.store.GetClient(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				current := 0
				for _, h := range rec.SecretHashes {
					if h.Current {
						current++
					}
				}
				if current != 1 {
					t.Fatalf("round %d: %d current secrets: %+v", round, current, rec.SecretHashes)
				}
				works := 0
				for _, s := range got {
					if s == "" {
						t.Fatal("a rotation failed")
					}
					if e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, id, s).status == 200 {
						works++
					}
				}
				if keep && (works != 2 || len(rec.SecretHashes) != stored+2) {
					t.Fatalf("keep_current: %d of 2 new secrets work, %d stored, want %d", works, len(rec.SecretHashes), stored+2)
				}
				if !keep && (works != 1 || len(rec.SecretHashes) != 1) {
					t.Fatalf("no keep: %d of 2 new secrets work, %d stored", works, len(rec.SecretHashes))
				}
				if keep {
					// Start the next round from one secret: drop the
					// kept ones.
					for _, h := range rec.SecretHashes {
						if !h.Current {
							e.must(200, e.call("DELETE", "clients/"+id+"/secrets/"+h.ID, ""))
						}
					}
				}
			}
			_ = first
		})
	}
}

func TestAdminRevokeClientAndUser(t *testing.T) {
	e := newAdminEnv(t, nil)
	id, secret := e.create(`{"name":"rv","scopes":["read"]}`)
	tok := e.token(id, secret, nil)
	other := e.token("app", "app-secret", nil)
	r := e.must(200, e.call("POST", "revocations", `{"client_id":"`+id+`"}`))
	if r.body["revoked"] != "client" {
		t.Fatalf("revoke: %s", r.raw)
	}
	if err := e.admitted(tok); err != ErrRevokedBefore {
		t.Fatalf("revoked client's token at the gateway: %v", err)
	}
	if in := e.introspect(tok, id, secret); in["active"] != false {
		t.Fatalf("revoked client's token introspected: %v", in)
	}
	if err := e.admitted(other); err != nil {
		t.Fatalf("another client's token: %v", err)
	}
	// Tokens issued in the same second are refused too; later ones work.
	e.clock.Advance(time.Second)
	fresh := e.token(id, secret, nil)
	if err := e.admitted(fresh); err != nil {
		t.Fatalf("token issued after the revocation: %v", err)
	}
	// A user: tokens whose subject is the user, not client tokens.
	now := e.clock.Now().Unix()
	user := &token.Claims{Issuer: testIss, JTI: "u1", ClientID: "app", Subject: "alice", IssuedAt: now}
	if err := e.iss.Admit(user, e.ip); err != nil {
		t.Fatal(err)
	}
	e.must(200, e.call("POST", "revocations", `{"user":"alice"}`))
	if err := e.iss.Admit(user, e.ip); err != ErrRevokedBefore {
		t.Fatalf("revoked user's token: %v", err)
	}
	if err := e.admitted(other); err != nil {
		t.Fatalf("client token after a user revocation: %v", err)
	}
	// By token and by jti.
	e.must(200, e.call("POST", "revocations", `{"token":"`+other+`"}`))
	if err := e.admitted(other); err != ErrRevoked {
		t.Fatalf("revoked token: %v", err)
	}
	another := e.token("app", "app-secret", nil)
	_, c := decodeJWT(t, another)
	e.must(200, e.call("POST", "revocations", `{"jti":"`+c["jti"].(string)+`"}`))
	if err := e.admitted(another); err != ErrRevoked {
		t.Fatalf("revoked jti: %v", err)
	}
}

func TestAdminKeysRotateNow(t *testing.T) {
	e := newAdminEnv(t, nil)
	before := e.iss.SigningKeyID()
	r := e.must(200, e.call("POST", "keys/rotate", `{"now":true}`))
	kid := r.body["key"].(map[string]any)["kid"].(string)
	if kid == before || !slices.Contains(e.iss.PublishedKeyIDs(), kid) || e.iss.SigningKeyID() != before {
		t.Fatalf("after rotate: published %v, signing %s (new %s)", e.iss.PublishedKeyIDs(), e.iss.SigningKeyID(), kid)
	}
	again := e.call("POST", "keys/rotate", `{"now":true}`)
	if again.status != 409 || !strings.Contains(again.raw, "already in progress") || !strings.Contains(again.raw, kid) {
		t.Fatalf("second rotate within the lead: %d %s", again.status, again.raw)
	}
	list := e.must(200, e.call("GET", "keys", ""))
	states := map[string]string{}
	for _, k := range list.body["keys"].([]any) {
		m := k.(map[string]any)
		states[m["kid"].(string)] = m["state"].(string)
	}
	if states[kid] != "pending" || states[before] != "active" || strings.Contains(list.raw, "private") {
		t.Fatalf("keys: %s", list.raw)
	}
	// After the lead the new key signs; another rotation may start.
	e.clock.Advance(e.iss.JWKSMaxAge())
	if e.iss.SigningKeyID() != kid {
		t.Fatalf("after the lead %s signs, want %s", e.iss.SigningKeyID(), kid)
	}
	e.must(200, e.call("POST", "keys/rotate", `{"now":true}`))
}

// A change made on one instance is applied on another sharing the store
// within ClientPollInterval: a disabled client's token is refused there.
func TestAdminChangeReachesOtherInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, stop := twoAdminInstances(t)
		defer stop()
		id, secret := a.create(`{"name":"shared"}`)
		time.Sleep(ClientPollInterval)
		synctest.Wait()
		tok := b.token(id, secret, nil)
		if err := b.admitted(tok); err != nil {
			t.Fatal(err)
		}
		a.must(200, a.call("PATCH", "clients/"+id, `{"disabled":true}`))
		start := time.Now()
		for b.admitted(tok) == nil {
			time.Sleep(10 * time.Millisecond)
			if time.Since(start) > ClientPollInterval {
				t.Fatalf("the other instance still admits a disabled client's token after %s", time.Since(start))
			}
		}
		a.must(200, a.call("PATCH", "clients/"+id, `{"disabled":false}`))
		time.Sleep(ClientPollInterval)
		synctest.Wait()
		if err := b.admitted(tok); err != nil {
			t.Fatalf("re-enabled: %v", err)
		}
		a.must(200, a.call("POST", "revocations", `{"client_id":"`+id+`"}`))
		start = time.Now()
		for b.admitted(tok) == nil {
			time.Sleep(10 * time.Millisecond)
			if time.Since(start) > ClientPollInterval {
				t.Fatalf("the other instance still admits a revoked client's token after %s", time.Since(start))
			}
		}
		a.must(200, a.call("DELETE", "clients/"+id, ""))
		start = time.Now()
		cc := url.Values{"grant_type": {GrantClientCredentials}}
		for b.do("POST", "/oauth/token", cc, id, secret).status != 401 {
			time.Sleep(10 * time.Millisecond)
			if time.Since(start) > ClientPollInterval {
				t.Fatalf("the other instance still knows a deleted client after %s", time.Since(start))
			}
		}
	})
}

// Store clients of another issuer sharing the store are invisible.
func TestAdminClientsPerIssuer(t *testing.T) {
	e := newAdminEnv(t, nil)
	if err := e.store.PutClient(context.Background(), store.Client{ID: "foreign", Issuer: "https://other.example",
		SecretHashes: []store.SecretHash{{Hash: HashSecret("s")}}}); err != nil {
		t.Fatal(err)
	}
	e.iss.clients.sync(context.Background(), e.store)
	e.must(404, e.call("GET", "clients/foreign", ""))
	e.must(404, e.call("PATCH", "clients/foreign", `{"disabled":true}`))
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "foreign", "s"), 401, errInvalidClient)
	if strings.Contains(e.must(200, e.call("GET", "clients", "")).raw, "foreign") {
		t.Fatal("another issuer's client listed")
	}
}

func TestHashSecretWith(t *testing.T) {
	for _, alg := range []string{HashAlgSHA256, HashAlgBcrypt, HashAlgArgon2id} {
		h, err := HashSecretWith(alg, "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, func(c *Config) {
			c.Clients = append(c.Clients, ClientConfig{ID: "h", Secrets: []SecretConfig{{Hash: h}}})
		})
		e.token("h", "s3cret", nil)
		wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "h", "wrong"), 401, errInvalidClient)
	}
	if _, err := HashSecretWith("md5", "x"); err == nil || !strings.Contains(err.Error(), "argon2id, bcrypt or sha256") {
		t.Fatalf("unknown algorithm: %v", err)
	}
	if _, err := HashSecretWith(HashAlgBcrypt, strings.Repeat("x", 73)); err == nil {
		t.Fatal("bcrypt accepted a secret it would truncate")
	}
	if _, err := HashSecretWith(HashAlgSHA256, ""); err == nil {
		t.Fatal("empty secret hashed")
	}
}

func FuzzAdminClientInput(f *testing.F) {
	for _, s := range []string{`{"name":"x"}`, `{"name":"x","allow_ip":["10.0.0.0/8"],"access_token_ttl":60}`,
		`{"scopes":["read"],"redirect_uris":["https://a/b"]}`, `{"access_token_ttl":1e3}`, `[]`, `{"name":"x","jwks_uri":"https://"}`} {
		f.Add(s)
	}
	e := newAdminEnv(&testing.T{}, nil)
	f.Fuzz(func(t *testing.T, body string) {
		e.testEnv.t = t
		r := httptest.NewRequest("POST", AdminPrefix+"issuers/"+url.PathEscape(testIss)+"/clients", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.api.ServeHTTP(w, r)
		if w.Code != 201 && w.Code != 400 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w.Code == 201 {
			var c AdminClient
			if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
				t.Fatal(err)
			}
			// What was accepted builds.
			rec, err := e.store.GetClient(context.Background(), c.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			cc := storeClientConfig(rec)
			if _, err := e.iss.clients.build(&cc); err != nil && !rec.Public {
				t.Fatalf("accepted a client that does not build: %v", err)
			}
			_ = e.store.DeleteClient(context.Background(), c.ClientID)
		}
	})
}

// A public client (browser flows) gets no secret; its record maps to the
// issuer's people config.
func TestAdminPublicClient(t *testing.T) {
	e := newAdminEnv(t, nil)
	r := e.must(201, e.call("POST", "clients", `{"name":"spa","public":true,"grant_types":["authorization_code","refresh_token"],
		"redirect_uris":["https://app.example/cb"],"post_logout_redirect_uris":["https://app.example/bye"],"skip_consent":true,"refresh_token_ttl":3600}`))
	if r.body["client_secret"] != nil || r.body["public"] != true {
		t.Fatalf("public client: %s", r.raw)
	}
	id := r.body["client_id"].(string)
	c := e.iss.clients.load().byID[id]
	if c == nil || !c.public || !c.allowsRedirect("https://app.example/cb") || !c.skipConsent || c.refreshTTL != time.Hour ||
		!c.allowsGrant(GrantAuthorizationCode) || !c.allowsAuth(AuthNone) {
		t.Fatalf("registry client: %+v", c)
	}
	if r := e.call("POST", "clients/"+id+"/secrets", `{}`); r.status != 409 || !strings.Contains(r.raw, "public") {
		t.Fatalf("rotating a public client's secret: %d %s", r.status, r.raw)
	}
}

func TestAdminActor(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.7:5555"
	if a := AdminActor(r); a != "addr:192.0.2.7:5555" {
		t.Fatalf("actor %q", a)
	}
	der := []byte("not really DER, only hashed")
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: der, Subject: pkix.Name{CommonName: "ops-laptop"}}}}
	sum := sha256.Sum256(der)
	if a := AdminActor(r); a != "cert:CN=ops-laptop sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("actor %q", a)
	}
}

// keys rotate --now on one instance is published by another sharing the
// store within ClientPollInterval, and only signs after the lead there too.
func TestAdminKeyRotationReachesOtherInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, stop := twoAdminInstances(t)
		defer stop()
		old := b.iss.SigningKeyID()
		kid := a.must(200, a.call("POST", "keys/rotate", `{"now":true}`)).body["key"].(map[string]any)["kid"].(string)
		time.Sleep(ClientPollInterval)
		synctest.Wait()
		if !slices.Contains(b.iss.PublishedKeyIDs(), kid) {
			t.Fatalf("the other instance does not publish %s after %s: %v", kid, ClientPollInterval, b.iss.PublishedKeyIDs())
		}
		if b.iss.SigningKeyID() != old {
			t.Fatal("the other instance signs with the new key before the lead")
		}
		time.Sleep(a.iss.JWKSMaxAge())
		synctest.Wait()
		if b.iss.SigningKeyID() != kid || a.iss.SigningKeyID() != kid {
			t.Fatalf("after the lead: a signs %s, b signs %s, want %s", a.iss.SigningKeyID(), b.iss.SigningKeyID(), kid)
		}
	})
}

// twoAdminInstances starts two issuers with admin APIs sharing one memory
// store, each polling it; call it inside a synctest bubble and defer stop.
func twoAdminInstances(t *testing.T) (a, b *adminEnv, stop func()) {
	clock := &fakeClock{t: time.Now()}
	db := memory.New(memory.Options{})
	mk := func() *adminEnv {
		e := &adminEnv{testEnv: newEnvOn(t, db, clock, func(c *Config) { c.Now = time.Now })}
		e.api = &AdminAPI{Issuers: func() ([]*Issuer, error) { return []*Issuer{e.iss}, nil }}
		return e
	}
	a, b = mk(), mk()
	ctx, cancel := context.WithCancel(context.Background())
	go a.iss.Run(ctx)
	go b.iss.Run(ctx)
	return a, b, func() { cancel(); synctest.Wait(); db.Close() }
}
