package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// A kid-less PEM key (`key <file>`) next to a JWKS URL: an RS256 token with
// a kid from the JWKS must be verified by that JWKS key (the PEM key used to
// answer every kid it did not know, so such tokens were refused with
// "signature verification failed"), and a kid rotated into the JWKS after
// start must trigger the unknown-kid re-fetch (which the PEM fallback used
// to suppress). Tokens signed by the PEM key still pass, with or without kid.
func TestJWKSNextToKidlessKey(t *testing.T) {
	useInProcessCaddy(t)
	const port = 9322
	pemKey := mxNewRSA(t, "")
	k1, k2 := mxNewRSA(t, "mixed-1"), mxNewRSA(t, "mixed-2")
	idp := jwNewProvider(t, 3600, jwNewKey(t, "unused")) // no routine refresh during the test
	mxPublish(t, idp, k1)

	pemPath := filepath.Join(t.TempDir(), "public.pem")
	der, err := x509.MarshalPKIXPublicKey(&pemKey.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	block := fmt.Sprintf("\t\tissuer %s\n\t\taudience %s\n\t\tkey %s\n\t\tjwks %s {\n\t\t\trefetch_interval 1s\n\t\t}",
		jwIssuer, jwAudience, pemPath, idp.JWKSURL())
	jwStart(t, jwCaddyfile(port, block, "ok"))
	site := fmt.Sprintf("http://127.0.0.1:%d/", port)
	c := jwClient()

	jwWantOK(t, jwMustGet(t, c, site, mxToken(t, k1, k1.kid, "alice")), "ok", "alice")
	jwWantOK(t, jwMustGet(t, c, site, mxToken(t, pemKey, "", "pem-no-kid")), "ok", "pem-no-kid")

	before := idp.Hits()
	mxPublish(t, idp, k1, k2)
	jwWantOK(t, jwMustGet(t, c, site, mxToken(t, k2, k2.kid, "bob")), "ok", "bob")
	if h := idp.Hits(); h <= before {
		t.Fatalf("a token with a newly published kid caused no JWKS fetch (%d fetches)", h)
	}
	// A PEM-signed token naming a kid nobody publishes falls back to the
	// kid-less key (the re-fetch it may cause is rate-limited).
	jwWantOK(t, jwMustGet(t, c, site, mxToken(t, pemKey, "some-other-kid", "pem-kid")), "ok", "pem-kid")
	// A token signed by neither key is refused, whatever kid it names.
	stranger := mxNewRSA(t, "mixed-1")
	jwWantInvalidToken(t, jwMustGet(t, c, site, mxToken(t, stranger, k1.kid, "mallory")), "foreign key, JWKS kid")
	jwWantInvalidToken(t, jwMustGet(t, c, site, mxToken(t, stranger, "", "mallory")), "foreign key, no kid")
}

type mxRSAKey struct {
	kid  string
	priv *rsa.PrivateKey
}

func mxNewRSA(t *testing.T, kid string) *mxRSAKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &mxRSAKey{kid: kid, priv: priv}
}

// mxPublish serves keys as the provider's RS256 JWKS.
func mxPublish(t *testing.T, p *jwProvider, keys ...*mxRSAKey) {
	t.Helper()
	var kids []string
	var jwks []json.RawMessage
	for _, k := range keys {
		jwks = append(jwks, testutil.PublicJWK(t, &k.priv.PublicKey, k.kid, "RS256", "sig"))
		kids = append(kids, k.kid)
	}
	p.Publish(kids, testutil.JWKS(jwks...))
}

// mxToken is a valid RS256 token for sub, signed by key, naming kid ("" for
// none) in its header.
func mxToken(t *testing.T, key *mxRSAKey, kid, sub string) string {
	t.Helper()
	h := map[string]string{"alg": "RS256", "typ": "at+jwt"}
	if kid != "" {
		h["kid"] = kid
	}
	return testutil.MustSignJWT(t, key.priv, h, jwClaims(jwIssuer, sub))
}
