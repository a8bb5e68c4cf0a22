package issuer

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// Two issuers on one origin, told apart by their URL paths, each point
// jwks_uri at their own JWKS (derived from the issuer path), which lists
// their own keys; and neither answers the other's well-known paths.
func TestIssuersOnOneOriginOwnJWKS(t *testing.T) {
	clock := newClock()
	db := openStore(t, clock)
	a := newEnvOn(t, db, clock, func(c *Config) { c.Issuer = "https://auth.example.com/a" })
	b := newEnvOn(t, db, clock, func(c *Config) { c.Issuer = "https://auth.example.com/b"; c.PathPrefix = "/b/oauth" })
	jwksOf := func(e *testEnv, issPath string) string {
		md := e.do("GET", PathASMetadata+issPath, nil, "", "")
		if md.status != 200 {
			t.Fatalf("%s metadata: %d", issPath, md.status)
		}
		u, err := url.Parse(md.body["jwks_uri"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return u.Path
	}
	pa, pb := jwksOf(a, "/a"), jwksOf(b, "/b")
	if pa != "/a/.well-known/jwks.json" || pb != "/b/.well-known/jwks.json" {
		t.Fatalf("jwks paths %q %q", pa, pb)
	}
	if a.iss.Owns(pb) || b.iss.Owns(pa) || a.iss.Owns(PathJWKS) || a.iss.Owns(PathASMetadata) || a.iss.Owns(PathOIDCMetadata) {
		t.Fatal("an issuer with a path answers another issuer's or the origin's well-known paths")
	}
	ja := a.do("GET", pa, nil, "", "")
	jb := b.do("GET", pb, nil, "", "")
	if ja.status != 200 || jb.status != 200 || ja.raw == jb.raw {
		t.Fatalf("JWKS %d %d, same document: %v", ja.status, jb.status, ja.raw == jb.raw)
	}
	if !strings.Contains(ja.raw, a.iss.SigningKeyID()) || !strings.Contains(jb.raw, b.iss.SigningKeyID()) {
		t.Fatal("a JWKS lacks its issuer's signing key")
	}
	// The only shared paths are what path_prefix decides (the module refuses
	// those); with distinct prefixes there are none.
	for _, p := range a.iss.Paths() {
		if slices.Contains(b.iss.Paths(), p) {
			t.Errorf("both issuers answer %s", p)
		}
	}
}
