package integration

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestSignInGoOIDC: a relying-party library we did not write (go-oidc with
// x/oauth2's PKCE helpers) discovers the issuer, sends a person through the
// login and consent forms, exchanges the code and verifies the ID token.
func TestSignInGoOIDC(t *testing.T) {
	useInProcessCaddy(t)
	siStart(t)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, siBase)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: "web-app", ClientSecret: "web-secret", Endpoint: provider.Endpoint(),
		RedirectURL: siCallback, Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("rp-state", oauth2.S256ChallengeOption(verifier), oidc.Nonce("rp-nonce"))

	// The person, through the forms (an HTTP client with cookies).
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := issDo(t, browser, mustReq(t, http.MethodGet, authURL))
	form := func(path string, f url.Values) issResp {
		req, _ := http.NewRequest(http.MethodPost, siBase+path, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return issDo(t, browser, req)
	}
	consent := form("/oauth/login", url.Values{"csrf": {siHidden(page.raw, "csrf")}, "request": {siHidden(page.raw, "request")},
		"username": {"alice"}, "password": {"alice-password"}})
	done := form("/oauth/consent", url.Values{"csrf": {siHidden(consent.raw, "csrf")}, "request": {siHidden(consent.raw, "request")}, "decision": {"allow"}})
	loc, err := url.Parse(done.header.Get("Location"))
	if err != nil || done.status != http.StatusSeeOther || loc.Query().Get("state") != "rp-state" {
		t.Fatalf("authorization response: %d %s", done.status, done.header.Get("Location"))
	}
	// RFC 9207: the response names its issuer.
	if loc.Query().Get("iss") != siBase {
		t.Fatalf("iss = %q", loc.Query().Get("iss"))
	}

	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatal("no id_token")
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: "web-app"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims struct {
		Nonce string `json:"nonce"`
		Email string `json:"email"`
		Name  string `json:"name"`
		Auth  int64  `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "alice" || claims.Nonce != "rp-nonce" || claims.Email != "alice@example.com" || claims.Name != "Alice Example" || claims.Auth == 0 {
		t.Fatalf("ID token claims: sub %q %+v", idt.Subject, claims)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != "alice" || info.Email != "alice@example.com" {
		t.Fatalf("userinfo: %+v %v", info, err)
	}
	// RP-initiated logout with the ID token as hint: signed out at once,
	// back at the registered target with the state.
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession != siBase+"/oauth/logout" {
		t.Fatalf("end_session_endpoint %q %v", meta.EndSession, err)
	}
	// (First a code for the wrong-verifier check below, while signed in.)
	authURL2 := conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	again := issDo(t, browser, mustReq(t, http.MethodGet, authURL2))
	loc2, _ := url.Parse(again.header.Get("Location"))
	out := issDo(t, browser, mustReq(t, http.MethodGet, meta.EndSession+"?"+url.Values{"id_token_hint": {raw},
		"post_logout_redirect_uri": {"http://127.0.0.1:9551/"}, "state": {"bye"}}.Encode()))
	if out.status != http.StatusFound || out.header.Get("Location") != "http://127.0.0.1:9551/?state=bye" {
		t.Fatalf("logout: %d %q", out.status, out.header.Get("Location"))
	}
	after := issDo(t, browser, mustReq(t, http.MethodGet, conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"))))
	if l, _ := url.Parse(after.header.Get("Location")); l == nil || l.Query().Get("error") != "login_required" {
		t.Fatalf("after logout: %d %q", after.status, after.header.Get("Location"))
	}
	// The library's view of a wrong verifier: the exchange fails.
	if _, err := conf.Exchange(ctx, loc2.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code exchanged with another request's verifier")
	}
}
