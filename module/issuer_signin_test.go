package module

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

const testPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"

func TestIssuerSignInCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`authgate_issuer {
		issuer https://auth.example.com
		session_ttl 8h
		consent_ttl 7d
		templates /etc/authgate/templates
		scope_description orders:read "Read your orders"
		scope_description email "Your e-mail address"
		user alice {
			password_hash ` + testPasswordHash + `
			claim email alice@example.com
			claim name "Alice Example"
			claim groups staff admins
		}
		user bob {
			password_hash {env.BOB_HASH}
			disabled
		}
		users_file /etc/authgate/users.json
	}`)
	var h IssuerHandler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(&h)
	want := `{"issuer":"https://auth.example.com","users":[{"name":"alice","password_hash":"` + testPasswordHash + `",` +
		`"claims":{"email":"alice@example.com","groups":["staff","admins"],"name":"Alice Example"}},` +
		`{"name":"bob","password_hash":"{env.BOB_HASH}","disabled":true}],"users_file":"/etc/authgate/users.json",` +
		`"session_ttl":28800000000000,"consent_ttl":604800000000000,"templates":"/etc/authgate/templates",` +
		`"scope_descriptions":{"email":"Your e-mail address","orders:read":"Read your orders"}}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestIssuerSignInCaddyfileErrors(t *testing.T) {
	pre := "authgate_issuer {\nissuer https://a\n"
	wantIssuerCaddyfileErrors(t, map[string]string{
		"user no name":         pre + "user {\npassword_hash x\n}\n}",
		"user two names":       pre + "user a b {\npassword_hash x\n}\n}",
		"user no hash":         pre + "user a {\nclaim email a@b\n}\n}",
		"user twice":           pre + "user a {\npassword_hash x\n}\nuser a {\npassword_hash y\n}\n}",
		"user dup hash":        pre + "user a {\npassword_hash x\npassword_hash y\n}\n}",
		"user claim no value":  pre + "user a {\npassword_hash x\nclaim email\n}\n}",
		"user claim twice":     pre + "user a {\npassword_hash x\nclaim g a\nclaim g b\n}\n}",
		"user unknown":         pre + "user a {\npassword_hash x\npassword secret\n}\n}",
		"user disabled arg":    pre + "user a {\npassword_hash x\ndisabled yes\n}\n}",
		"users_file twice":     pre + "users_file a\nusers_file b\n}",
		"users_file no arg":    pre + "users_file\n}",
		"session_ttl bad":      pre + "session_ttl soon\n}",
		"session_ttl negative": pre + "session_ttl -1h\n}",
		"consent_ttl twice":    pre + "consent_ttl 1h\nconsent_ttl 2h\n}",
		"templates two":        pre + "templates a b\n}",
		"scope_description 1":  pre + "scope_description read\n}",
		"scope_description 3":  pre + "scope_description read Read things\n}",
		"scope_description 2x": pre + "scope_description read a\nscope_description read b\n}",
	})
}
