package integration

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestIssuerInteropOAuth2Client: the standard Go OAuth2 client obtains a
// token from the real Caddy (both auth styles), and the token verifies with
// an independent verifier (jwx jwt.Parse) against the published JWKS.
func TestIssuerInteropOAuth2Client(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "a.db")
	tester := issStart(t, issCaddyfile(db, ""))
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: tester.Client.Transport})
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := clientcredentials.Config{
			ClientID:     "app",
			ClientSecret: "app-secret",
			TokenURL:     issTokenURL,
			Scopes:       []string{"read", "write"},
			AuthStyle:    style,
		}
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("auth style %v: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
			t.Fatalf("token %+v", tok)
		}
		set, err := jwk.Fetch(ctx, issJWKSURL, jwk.WithHTTPClient(tester.Client))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jwt.Parse([]byte(tok.AccessToken), jwt.WithKeySet(set), jwt.WithIssuer(issBase), jwt.WithAudience(issBase), jwt.WithValidate(true))
		if err != nil {
			t.Fatalf("independent verification: %v", err)
		}
		if sub, _ := parsed.Subject(); sub != "app" {
			t.Fatalf("sub %q", sub)
		}
		var scope string
		if err := parsed.Get("scope", &scope); err != nil || scope != "read write" {
			t.Fatalf("scope %q %v", scope, err)
		}
		// A wrong secret is an error for the client library too.
		cfg.ClientSecret = "wrong"
		if _, err := cfg.Token(ctx); err == nil {
			t.Fatal("wrong secret accepted")
		}
	}
}

// TestIssuerInteropGoOIDC: a strict OpenID Connect client library we did not
// write (github.com/coreos/go-oidc/v3) accepts the issuer's discovery
// document (issuer match, jwks_uri), with and without an issuer path, and
// its verifier, told the algorithm (the document lists no
// id_token_signing_alg_values_supported until ID tokens are issued),
// verifies our access tokens against the published JWKS.
func TestIssuerInteropGoOIDC(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "a.db")
	tester := issStart(t, twoIssuers(db, "path_prefix /b/oauth"))
	ctx := oidc.ClientContext(context.Background(), tester.Client)
	for _, name := range []string{"a", "b"} {
		iss := issBase + "/" + name
		p, err := oidc.NewProvider(ctx, iss)
		if err != nil {
			t.Fatalf("NewProvider(%s): %v", iss, err)
		}
		var md struct {
			JWKS    string   `json:"jwks_uri"`
			Algs    []string `json:"id_token_signing_alg_values_supported"`
			Subject []string `json:"subject_types_supported"`
		}
		if err := p.Claims(&md); err != nil {
			t.Fatal(err)
		}
		if md.JWKS != iss+"/.well-known/jwks.json" || md.Algs != nil || len(md.Subject) == 0 {
			t.Fatalf("%s discovery: %+v", iss, md)
		}
		if p.Endpoint().TokenURL != iss+"/oauth/token" {
			t.Fatalf("%s token endpoint %q", iss, p.Endpoint().TokenURL)
		}
		r := issPost(t, tester.Client, p.Endpoint().TokenURL, url.Values{"grant_type": {"client_credentials"}}, "app-"+name, "secret-"+name)
		if r.status != 200 {
			t.Fatalf("token: %d %s", r.status, r.raw)
		}
		tok := r.body["access_token"].(string)
		v := p.Verifier(&oidc.Config{ClientID: iss, SupportedSigningAlgs: []string{oidc.ES256}})
		idt, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("go-oidc verifier on %s's access token: %v", iss, err)
		}
		if idt.Subject != "app-"+name || idt.Issuer != iss {
			t.Fatalf("verified %+v", idt)
		}
		// A token of the other issuer does not verify here.
		other := map[string]string{"a": "b", "b": "a"}[name]
		ro := issPost(t, tester.Client, issBase+"/"+other+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "app-"+other, "secret-"+other)
		if _, err := v.Verify(ctx, ro.body["access_token"].(string)); err == nil {
			t.Fatalf("%s's verifier accepted %s's token", name, other)
		}
	}
}
