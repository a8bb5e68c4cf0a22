package issuer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authgate/caddy-authgate/token"
)

// A user added through the admin API can sign in at once (the issuer's
// sign-in check, authenticateUser); passwd, disable and delete take effect
// at once, and disable and delete also refuse the user's tokens.
func TestAdminUsers(t *testing.T) {
	cfgHash, err := HashPassword("config-password")
	if err != nil {
		t.Fatal(err)
	}
	e := newAdminEnv(t, func(c *Config) {
		c.Users = []UserConfig{{Name: "root", PasswordHash: cfgHash}}
	})
	ctx := context.Background()
	signIn := func(name, pw string) error {
		_, err := e.iss.authenticateUser(ctx, name, pw, e.ip)
		return err
	}
	r := e.must(201, e.call("POST", "users", `{"name":"alice@example.com","password":"correct horse","claims":{"email":"alice@example.com"}}`))
	if strings.Contains(r.raw, "correct horse") || strings.Contains(r.raw, "argon2") {
		t.Fatalf("create answer leaks the password or its hash: %s", r.raw)
	}
	if err := signIn("alice@example.com", "correct horse"); err != nil {
		t.Fatalf("added user cannot sign in: %v", err)
	}
	if err := signIn("alice@example.com", "wrong"); !errors.Is(err, errBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	list := e.must(200, e.call("GET", "users", ""))
	if !strings.Contains(list.raw, `"name": "root"`) || !strings.Contains(list.raw, `"source": "config"`) || strings.Contains(list.raw, "argon2") {
		t.Fatalf("list: %s", list.raw)
	}
	e.must(200, e.call("GET", "users/alice@example.com", ""))
	// passwd
	e.must(200, e.call("PATCH", "users/alice@example.com", `{"password":"battery staple"}`))
	if err := signIn("alice@example.com", "correct horse"); !errors.Is(err, errBadCredentials) {
		t.Fatalf("old password after passwd: %v", err)
	}
	if err := signIn("alice@example.com", "battery staple"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// disable: no sign-in, tokens for the user refused.
	tok := &token.Claims{Issuer: testIss, JTI: "t1", ClientID: "app", Subject: "alice@example.com", IssuedAt: e.clock.Now().Unix()}
	if err := e.iss.Admit(tok, e.ip); err != nil {
		t.Fatal(err)
	}
	e.must(200, e.call("PATCH", "users/alice@example.com", `{"disabled":true}`))
	if err := signIn("alice@example.com", "battery staple"); !errors.Is(err, errBadCredentials) {
		t.Fatalf("disabled user signed in: %v", err)
	}
	if err := e.iss.Admit(tok, e.ip); !errors.Is(err, ErrRevokedBefore) {
		t.Fatalf("disabled user's token: %v", err)
	}
	e.must(200, e.call("PATCH", "users/alice@example.com", `{"disabled":false}`))
	if err := signIn("alice@example.com", "battery staple"); err != nil {
		t.Fatalf("re-enabled: %v", err)
	}
	// Bad input, read-only config users.
	for _, c := range []struct {
		method, rest, body string
		status             int
		msg                string
	}{
		{"POST", "users", `{"name":"bob"}`, 400, "password: required"},
		{"POST", "users", `{"name":"bob","password":"short"}`, 400, "password: must be 8"},
		{"POST", "users", `{"name":" bob","password":"long enough"}`, 400, "name:"},
		{"POST", "users", `{"name":"bob","password":"long enough","claims":{"sub":"root"}}`, 400, `claim "sub" is set by the issuer`},
		{"POST", "users", `{"name":"bob","password":"long enough","role":"admin"}`, 400, "role: unknown field"},
		{"POST", "users", `{"name":"alice@example.com","password":"long enough"}`, 409, "exists"},
		{"POST", "users", `{"name":"root","password":"long enough"}`, 409, "read-only"},
		{"PATCH", "users/root", `{"disabled":true}`, 409, "read-only"},
		{"DELETE", "users/root", ``, 409, "read-only"},
		{"PATCH", "users/nobody", `{"disabled":true}`, 404, "no user"},
		{"PATCH", "users/alice@example.com", `{}`, 400, "at least one"},
		{"PATCH", "users/alice@example.com", `{"name":"mallory"}`, 400, "cannot be changed"},
		{"GET", "users/nobody", ``, 404, "no user"},
		{"DELETE", "users/nobody", ``, 404, "no user"},
	} {
		r := e.call(c.method, c.rest, c.body)
		if r.status != c.status || !strings.Contains(r.body["error"].(string), c.msg) {
			t.Errorf("%s %s %s: %d %s; want %d %q", c.method, c.rest, c.body, r.status, r.raw, c.status, c.msg)
		}
	}
	if err := signIn("root", "config-password"); err != nil {
		t.Fatalf("config user: %v", err)
	}
	// delete
	e.must(200, e.call("DELETE", "users/alice@example.com", ""))
	if err := signIn("alice@example.com", "battery staple"); !errors.Is(err, errBadCredentials) {
		t.Fatalf("deleted user signed in: %v", err)
	}
	for _, ev := range e.events {
		for _, v := range ev.Detail {
			if strings.Contains(v, "horse") || strings.Contains(v, "staple") {
				t.Fatalf("audit event carries a password: %+v", ev)
			}
		}
	}
	var actions []string
	for _, ev := range e.events {
		actions = append(actions, ev.Action)
	}
	if got := strings.Join(actions, " "); got != "user.create user.passwd user.disable user.enable user.delete" {
		t.Fatalf("audit actions: %s", got)
	}
}
