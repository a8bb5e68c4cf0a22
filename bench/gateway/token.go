package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// Token claims the gateway site checks (issuer, audience, scope) and forwards
// (sub as X-User).
const (
	benchKid      = "bench"
	benchIssuer   = "https://issuer.bench.invalid"
	benchAudience = "bench-api"
	benchScope    = "orders:read"
	benchSubject  = "bench-user"
)

// newKeyAndToken creates an ES256 key, writes its public half into dir as a
// one-key JWK Set carrying kid "bench", and returns the file's path and one
// signed token valid for an hour.
//
// The key file is a JWK Set rather than PEM because a PEM key has no kid:
// the gateway's static key set then only matches kid-less tokens, and a token
// with `"kid":"bench"` is refused as signed by an unknown key.
func newKeyAndToken(dir string) (keyFile, tok string, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	point, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return "", "", err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": benchKid, "alg": "ES256", "use": "sig",
		"x": b64(point[1:33]), "y": b64(point[33:65]),
	}}})
	keyFile = filepath.Join(dir, "bench-key.jwks.json")
	if err := os.WriteFile(keyFile, jwks, 0o600); err != nil {
		return "", "", err
	}

	header, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": benchKid, "typ": "JWT"})
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss":   benchIssuer,
		"sub":   benchSubject,
		"aud":   benchAudience,
		"scope": benchScope,
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	})
	input := b64(header) + "." + b64(claims)
	sig, err := jwsbb.Sign(priv, "ES256", []byte(input), nil)
	if err != nil {
		return "", "", fmt.Errorf("sign: %w", err)
	}
	return keyFile, input + "." + b64(sig), nil
}
