package issuer

import (
	"context"
	"strings"
	"testing"
)

// TestPeopleClientRules: rules between a client's kind, methods, grants and
// redirect URIs, and the ID-token algorithm against the issuer's.
func TestPeopleClientRules(t *testing.T) {
	pub := func(grants ...string) ClientConfig {
		return ClientConfig{ID: "a", GrantTypes: grants, PeopleConfig: PeopleConfig{Public: true, RedirectURIs: []string{"https://a/cb"}}}
	}
	conf := func(grants ...string) ClientConfig {
		return ClientConfig{ID: "a", Secrets: []SecretConfig{{Plain: "s"}}, GrantTypes: grants,
			PeopleConfig: PeopleConfig{RedirectURIs: []string{"https://a/cb"}}}
	}
	for name, tc := range map[string]struct {
		cc   ClientConfig
		want string
	}{
		"public client_credentials": {pub(GrantClientCredentials), "may not use"},
		"public token exchange":     {pub(GrantAuthorizationCode, GrantTokenExchange), "may not use"},
		"public secret method": {func() ClientConfig {
			c := pub()
			c.AuthMethods = []string{AuthClientSecretBasic}
			return c
		}(), "auth_method none only"},
		"public with secret": {func() ClientConfig { c := pub(); c.Secrets = []SecretConfig{{Plain: "x"}}; return c }(), "no secret"},
		"confidential none": {func() ClientConfig {
			c := conf()
			c.AuthMethods = []string{AuthNone}
			return c
		}(), "public clients only"},
		"code without redirect":                 {ClientConfig{ID: "a", Secrets: []SecretConfig{{Plain: "s"}}, GrantTypes: []string{GrantAuthorizationCode}}, "redirect_uri"},
		"implicit without redirect":             {ClientConfig{ID: "a", GrantTypes: []string{GrantImplicit}, PeopleConfig: PeopleConfig{Public: true}}, "redirect_uri"},
		"public default grant without redirect": {ClientConfig{ID: "a", PeopleConfig: PeopleConfig{Public: true}}, "redirect_uri"},
		"refresh without code":                  {conf(GrantClientCredentials, GrantRefreshToken), "needs the authorization_code"},
		"bad redirect":                          {func() ClientConfig { c := conf(); c.RedirectURIs = []string{"/cb"}; return c }(), "absolute"},
		"bad logout redirect":                   {func() ClientConfig { c := conf(); c.PostLogoutRedirectURIs = []string{"https://a/#f"}; return c }(), "fragment"},
		"id alg hmac":                           {func() ClientConfig { c := conf(); c.IDTokenSignedResponseAlg = "HS256"; return c }(), "asymmetric"},
		"id alg not issuer's":                   {func() ClientConfig { c := conf(); c.IDTokenSignedResponseAlg = "ES384"; return c }(), "RS256 or the issuer's"},
		"refresh ttl too short":                 {func() ClientConfig { c := conf(); c.RefreshTokenTTL = 1; return c }(), "refresh_token_ttl"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), Config{Issuer: testIss, Clients: []ClientConfig{tc.cc}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// The good cases: defaults of a public client, the issuer's own alg.
	iss, err := New(context.Background(), Config{Issuer: testIss, SigningAlg: "ES256", Clients: []ClientConfig{
		pub(), func() ClientConfig {
			c := conf(GrantAuthorizationCode, GrantRefreshToken)
			c.ID = "b"
			c.IDTokenSignedResponseAlg = "ES256"
			return c
		}(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	snap := iss.clients.load()
	a, b := snap.byID["a"], snap.byID["b"]
	if !a.public || len(a.authMethods) != 1 || a.authMethods[0] != AuthNone || !a.allowsGrant(GrantAuthorizationCode) || a.allowsGrant(GrantClientCredentials) || a.idTokenAlg != "RS256" {
		t.Fatalf("public client: %+v", a)
	}
	if b.idTokenAlg != "ES256" || !b.allowsRedirect("https://a/cb") || b.allowsRedirect("https://a/cb/") {
		t.Fatalf("confidential client: %+v", b)
	}
	if iss.refreshTTL != DefaultRefreshTokenTTL || iss.familyLifetime != DefaultRefreshFamilyLifetime {
		t.Fatalf("defaults: %v %v", iss.refreshTTL, iss.familyLifetime)
	}
	if _, err := New(context.Background(), Config{Issuer: testIss, RefreshFamilyLifetime: -1}); err == nil {
		t.Fatal("negative family lifetime accepted")
	}
}

func TestCheckRedirectURI(t *testing.T) {
	for _, ok := range []string{"https://a.example/cb", "http://127.0.0.1/callback", "http://[::1]:8080/cb?x=1", "com.example.app:/oauth2redirect"} {
		if err := CheckRedirectURI(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/cb", "cb", "https://a/cb#", "https://a/cb#f", "javascript:alert(1)", "JavaScript:x", "data:text/html,x",
		"file:///etc/passwd", "https:///cb", "https://u@a/cb", "https://a/c b", "https://a/\x00", strings.Repeat("a", 3000), "https://a/\xff"} {
		if err := CheckRedirectURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
