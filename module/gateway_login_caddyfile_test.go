package module

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestLoginCaddyfileErrors(t *testing.T) {
	login := func(body string) string {
		return "authgate {\n\tlogin https://idp.example {\n" + body + "\t}\n}"
	}
	cases := []struct {
		name, input, want string
		line              int
	}{
		{"no issuer", "authgate {\n\tlogin {\n\t\tclient_id a\n\t}\n}", "wrong argument count", 2},
		{"relative issuer", "authgate {\n\tlogin idp.example {\n\t\tclient_id a\n\t}\n}", "login: ", 2},
		{"no client_id", login("\t\tscopes openid\n"), "login needs client_id", 2},
		{"unknown option", login("\t\tclient_id a\n\t\tfrobnicate 1\n"), `unknown login option "frobnicate"`, 4},
		{"duplicate option", login("\t\tclient_id a\n\t\tclient_id b\n"), `duplicate login option "client_id"`, 4},
		{"scopes without openid", login("\t\tclient_id a\n\t\tscopes profile email\n"), "login scopes must include openid", 4},
		{"bad session", login("\t\tclient_id a\n\t\tsession memory\n"), `session must be store or cookie, got "memory"`, 4},
		{"short session_ttl", login("\t\tclient_id a\n\t\tsession_ttl 10s\n"), "session_ttl must be at least 1m", 4},
		{"bad idle_timeout", login("\t\tclient_id a\n\t\tidle_timeout soon\n"), `invalid duration "soon"`, 4},
		{"relative callback", login("\t\tclient_id a\n\t\tcallback_path cb\n"), "callback_path must be an absolute path", 4},
		{"callback with query", login("\t\tclient_id a\n\t\tcallback_path /cb?x\n"), "callback_path must be an absolute path", 4},
		{"same paths", login("\t\tclient_id a\n\t\tcallback_path /x\n\t\tlogout_path /x\n"), "callback_path and logout_path must differ", 2},
		{"bad cookie name", login("\t\tclient_id a\n\t\tcookie_name \"a;b\"\n"), `cookie_name "a;b" is not a valid cookie name`, 4},
		{"auth_param the gateway sets", login("\t\tclient_id a\n\t\tauth_param state x\n"), "auth_param state is set by the gateway", 4},
		{"auth_param without value", login("\t\tclient_id a\n\t\tauth_param prompt\n"), "auth_param needs a name and a value", 4},
		{"relative post_logout_redirect", login("\t\tclient_id a\n\t\tpost_logout_redirect /bye\n"), "post_logout_redirect: ", 4},
		{"plain http provider", "authgate {\n\tlogin http://idp.example {\n\t\tclient_id a\n\t}\n}", `uses plain http`, 2},
		{"pass_access_token with argument", "authgate {\n\tissuer https://a\n\tpass_access_token yes\n}", "wrong argument count", 3},
		{"identity_header without name", "authgate {\n\tissuer https://a\n\tidentity_header\n}", "wrong argument count", 3},
		{"identity_header bad name", "authgate {\n\tissuer https://a\n\tidentity_header \"X A\"\n}", "is not a valid HTTP field name", 3},
		{"identity_header also mapped", "authgate {\n\tissuer https://a\n\theader X-A sub\n\tidentity_header x-a\n}", "identity_header x-a is also mapped from a claim", 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantGatewayCaddyfileError(t, tc.input, tc.want, tc.line) })
	}
}

func TestLoginCaddyfileDefaultsAndValues(t *testing.T) {
	var g Gateway
	err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`authgate {
	login https://idp.example/realms/x {
		client_id portal
		client_secret {env.PORTAL_SECRET}
		scopes openid email offline_access
		auth_param prompt consent
		auth_param access_type offline
		idle_timeout 0
		session cookie
	}
	pass_access_token
	identity_header X-Authgate-Assertion legacy-app
}`))
	if err != nil {
		t.Fatal(err)
	}
	l := g.Login
	if l.Issuer != "https://idp.example/realms/x" || l.ClientID != "portal" || l.ClientSecret != "{env.PORTAL_SECRET}" ||
		len(l.Scopes) != 3 || l.AuthParams["prompt"] != "consent" || l.AuthParams["access_type"] != "offline" ||
		l.IdleTimeout == nil || *l.IdleTimeout != 0 || l.Session != "cookie" {
		t.Fatalf("%+v", l)
	}
	if !g.PassAccessToken || g.IdentityHeader != "X-Authgate-Assertion" || g.IdentityAudience != "legacy-app" {
		t.Fatalf("%+v", g)
	}
	// With no other key source, the login's issuer is trusted for bearer
	// tokens too.
	if len(g.Issuers) != 1 || g.Issuers[0] != l.Issuer {
		t.Fatalf("issuers %q", g.Issuers)
	}
	_ = time.Second
}
