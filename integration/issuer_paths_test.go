package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// twoIssuers is a site with two issuers on one origin; prefixB is issuer
// B's path_prefix line (empty: the default, colliding with A's).
func twoIssuers(db, prefixB string) string {
	return boltGlobals(9201, db) + fmt.Sprintf(`http://127.0.0.1:9201 {
	authgate_issuer {
		issuer %s/a
		path_prefix /a/oauth
		client app-a {
			secret secret-a
		}
	}
	authgate_issuer {
		issuer %s/b
		%s
		client app-b {
			secret secret-b
		}
	}
	respond "upstream ok"
}
`, issBase, issBase, prefixB)
}

// Two issuers on one site each publish their own JWKS at a path derived
// from their issuer URL, their metadata points there, and each one's tokens
// verify against it (and not against the other's). Paths that collide
// (here: the same path_prefix) are refused at provision with a clear error.
func TestTwoIssuersOneSite(t *testing.T) {
	useInProcessCaddy(t)
	dir := t.TempDir()

	// Colliding: B keeps the default /oauth prefix, A uses /oauth too.
	colliding := strings.Replace(twoIssuers(filepath.Join(dir, "c.db"), ""), "path_prefix /a/oauth", "", 1)
	err := validateJSON(t, adaptCaddyfile(t, colliding))
	if err == nil || !strings.Contains(err.Error(), "both answer "+issBase+"/oauth/token") {
		t.Fatalf("colliding issuers: want a 'both answer .../oauth/token' error, got %v", err)
	}

	tester := issStart(t, twoIssuers(filepath.Join(dir, "a.db"), "path_prefix /b/oauth"))
	c := tester.Client
	ctx := context.Background()
	jwksOf := func(name string) (string, jwk.Set) {
		// RFC 8414 §3.1 inserted form, and OpenID's appended form.
		for _, p := range []string{"/.well-known/oauth-authorization-server/" + name, "/" + name + "/.well-known/openid-configuration"} {
			res, err := c.Get(issBase + p)
			if err != nil {
				t.Fatal(err)
			}
			var md map[string]any
			err = json.NewDecoder(res.Body).Decode(&md)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 || md["issuer"] != issBase+"/"+name {
				t.Fatalf("%s: %d %v %v", p, res.StatusCode, md, err)
			}
			if want := issBase + "/" + name + "/.well-known/jwks.json"; md["jwks_uri"] != want {
				t.Fatalf("%s: jwks_uri %v, want %s", p, md["jwks_uri"], want)
			}
		}
		u := issBase + "/" + name + "/.well-known/jwks.json"
		set, err := jwk.Fetch(ctx, u, jwk.WithHTTPClient(c))
		if err != nil {
			t.Fatal(err)
		}
		return u, set
	}
	_, setA := jwksOf("a")
	_, setB := jwksOf("b")
	tokenOf := func(prefix, id, secret string) string {
		r := issPost(t, c, issBase+prefix+"/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
		if r.status != 200 {
			t.Fatalf("%s token: %d %s", id, r.status, r.raw)
		}
		return r.body["access_token"].(string)
	}
	ta, tb := tokenOf("/a/oauth", "app-a", "secret-a"), tokenOf("/b/oauth", "app-b", "secret-b")
	if _, err := jwt.Parse([]byte(tb), jwt.WithKeySet(setB), jwt.WithIssuer(issBase+"/b")); err != nil {
		t.Fatalf("B's token against B's JWKS: %v", err)
	}
	if _, err := jwt.Parse([]byte(ta), jwt.WithKeySet(setA), jwt.WithIssuer(issBase+"/a")); err != nil {
		t.Fatalf("A's token against A's JWKS: %v", err)
	}
	if _, err := jwt.Parse([]byte(tb), jwt.WithKeySet(setA)); err == nil {
		t.Fatal("B's token verified with A's JWKS")
	}
	// Neither answers the origin's own well-known paths.
	res, err := c.Get(issBase + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK && res.Header.Get("Content-Type") == "application/jwk-set+json" {
		t.Fatal("an issuer with a path answers the origin's /.well-known/jwks.json")
	}
}
