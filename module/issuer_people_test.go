package module

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestIssuerPeopleCaddyfile(t *testing.T) {
	input := `authgate_issuer {
		issuer https://auth.example.com
		refresh_token_ttl 30d
		refresh_family_lifetime 90d
		client web {
			secret x
			redirect_uri https://app.example.com/cb
			redirect_uri https://app.example.com/cb2
			post_logout_redirect_uri https://app.example.com/
			grant_types authorization_code refresh_token
			skip_consent
			id_token_signed_response_alg RS256
			refresh_token_ttl 7d
		}
		client mobile {
			public
			redirect_uri http://127.0.0.1/callback
			redirect_uri com.example.app:/cb
		}
	}`
	var h IssuerHandler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
		t.Fatal(err)
	}
	if h.RefreshTokenTTL != caddy.Duration(30*24*time.Hour) || h.RefreshFamilyLifetime != caddy.Duration(90*24*time.Hour) {
		t.Fatalf("issuer lifetimes: %v %v", h.RefreshTokenTTL, h.RefreshFamilyLifetime)
	}
	web, mobile := h.Clients[0], h.Clients[1]
	if len(web.RedirectURIs) != 2 || len(web.PostLogoutRedirectURIs) != 1 || !web.SkipConsent || web.Public ||
		web.IDTokenSignedResponseAlg != "RS256" || web.RefreshTokenTTL != caddy.Duration(7*24*time.Hour) {
		t.Fatalf("web: %+v", web)
	}
	if !mobile.Public || len(mobile.Secrets) != 0 || len(mobile.RedirectURIs) != 2 {
		t.Fatalf("mobile: %+v", mobile)
	}
}

func TestIssuerPeopleCaddyfileErrors(t *testing.T) {
	c := func(body string) string {
		return "authgate_issuer {\nissuer https://a\nclient a {\n" + body + "\n}\n}"
	}
	wantIssuerCaddyfileErrors(t, map[string]string{
		"public arg":           c("public yes"),
		"public with secret":   c("public\nsecret x"),
		"skip_consent arg":     c("secret x\nskip_consent no"),
		"redirect relative":    c("secret x\nredirect_uri /cb"),
		"redirect fragment":    c("secret x\nredirect_uri https://a/cb#x"),
		"redirect javascript":  c("secret x\nredirect_uri javascript:alert(1)"),
		"redirect no host":     c("secret x\nredirect_uri https:///cb"),
		"redirect userinfo":    c("secret x\nredirect_uri https://u:p@a/cb"),
		"redirect two args":    c("secret x\nredirect_uri https://a/1 https://a/2"),
		"redirect none":        c("secret x\nredirect_uri"),
		"logout fragment":      c("secret x\npost_logout_redirect_uri https://a/#x"),
		"id alg hmac":          c("secret x\nid_token_signed_response_alg HS256"),
		"id alg none":          c("secret x\nid_token_signed_response_alg none"),
		"id alg dup":           c("secret x\nid_token_signed_response_alg RS256\nid_token_signed_response_alg ES256"),
		"client refresh ttl":   c("secret x\nrefresh_token_ttl soon"),
		"client refresh zero":  c("secret x\nrefresh_token_ttl 0s"),
		"dup public":           c("public\npublic"),
		"issuer refresh ttl":   "authgate_issuer {\nissuer https://a\nrefresh_token_ttl -1h\n}",
		"issuer family dup":    "authgate_issuer {\nissuer https://a\nrefresh_family_lifetime 1d\nrefresh_family_lifetime 2d\n}",
		"issuer family no arg": "authgate_issuer {\nissuer https://a\nrefresh_family_lifetime\n}",
	})
}
