package integration

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestIssuerInteropOAuth2Client: the standard Go OAuth2 client obtains a
// token from the real Caddy (both auth styles), and the token verifies with
// an independent verifier (jwx jwt.Parse) against the published JWKS.
func TestIssuerInteropOAuth2Client(t *testing.T) {
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
