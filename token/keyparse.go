package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// ParseKeyFile reads public verification keys from a file's contents: PEM
// (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE blocks, several per file), a
// single JWK, or a JWKS. Private keys are refused: a gateway needs only the
// public half, and a private key in its config is a leak waiting to happen.
func ParseKeyFile(data []byte, source string) ([]*Key, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		keys, skipped, err := ParseJWKS(trimmed, source)
		if err != nil {
			return nil, err
		}
		if len(skipped) > 0 {
			return nil, fmt.Errorf("%s: %w", source, errors.Join(skipped...))
		}
		return keys, nil
	}
	return parsePEM(trimmed, source)
}

func parsePEM(data []byte, source string) ([]*Key, error) {
	var keys []*Key
	for len(data) > 0 {
		block, rest := pem.Decode(data)
		if block == nil {
			if len(bytes.TrimSpace(data)) > 0 {
				return nil, fmt.Errorf("%s: not PEM, JWK or JWKS data", source)
			}
			break
		}
		data = rest
		material, err := pemPublicKey(block)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		k, err := NewKey("", "", material, source)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no key found", source)
	}
	return keys, nil
}

func pemPublicKey(block *pem.Block) (any, error) {
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
}

// MaxJWKSKeys bounds how many keys one JWKS may contribute.
const MaxJWKSKeys = 100

// ParseJWKS reads a JWKS ({"keys":[...]}) or a single JWK. Keys that cannot
// verify signatures here (use other than "sig", symmetric, unsupported kty or
// crv, weak) are returned in skipped with the reason, not as an error; err is
// set only when the document is malformed or yields no usable key.
func ParseJWKS(data []byte, source string) (keys []*Key, skipped []error, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: invalid JSON: %w", source, err)
	}
	raws := doc.Keys
	if raws == nil {
		raws = []json.RawMessage{data} // a single JWK
	}
	if len(raws) > MaxJWKSKeys {
		return nil, nil, fmt.Errorf("%s: %d keys exceed the limit of %d", source, len(raws), MaxJWKSKeys)
	}
	for i, raw := range raws {
		k, err := keyFromJWK(raw, source)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("%s: no usable signing key (%w)", source, errors.Join(skipped...))
	}
	return keys, skipped, nil
}

func keyFromJWK(raw []byte, source string) (*Key, error) {
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, err
	}
	kid, _ := key.KeyID()
	if use, ok := key.KeyUsage(); ok && use != "sig" {
		return nil, fmt.Errorf("kid %q: use %q is not \"sig\"", kid, use)
	}
	var alg string
	if a, ok := key.Algorithm(); ok {
		alg = a.String()
	}
	var material any
	if err := jwk.Export(key, &material); err != nil {
		return nil, fmt.Errorf("kid %q: %w", kid, err)
	}
	switch m := material.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		return nil, fmt.Errorf("kid %q: private key material is not accepted as a verification key", kid)
	case []byte:
		return nil, fmt.Errorf("kid %q: symmetric keys are not accepted from a key set (use hmac_secret)", kid)
	case ecdsa.PublicKey:
		material = &m
	case rsa.PublicKey:
		material = &m
	}
	k, err := NewKey(kid, alg, material, source)
	if err != nil {
		return nil, fmt.Errorf("kid %q: %w", kid, err)
	}
	return k, nil
}
