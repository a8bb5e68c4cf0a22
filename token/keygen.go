package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
)

// GeneratedRSABits is the modulus size of RSA keys made by GenerateKey.
const GeneratedRSABits = 3072

// hmacKeySize is the secret size GenerateKey uses for an HMAC algorithm, and
// the minimum a signer accepts (RFC 7518 §3.2: at least the hash size).
func hmacKeySize(alg string) int {
	switch alg {
	case HS256:
		return 32
	case HS384:
		return 48
	case HS512:
		return 64
	}
	return 0
}

// GenerateKey makes a new private key for alg: *ecdsa.PrivateKey (ES256
// P-256, ES384 P-384, ES512 P-521), *rsa.PrivateKey of 3072 bits (RS*, PS*),
// ed25519.PrivateKey (EdDSA), or a random []byte secret of the hash size
// (HS256 32, HS384 48, HS512 64 bytes). Randomness comes from crypto/rand.
func GenerateKey(alg string) (private any, err error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ES384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case ES512:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case RS256, RS384, RS512, PS256, PS384, PS512:
		return rsa.GenerateKey(rand.Reader, GeneratedRSABits)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case HS256, HS384, HS512:
		secret := make([]byte, hmacKeySize(alg))
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		return secret, nil
	}
	return nil, fmt.Errorf("cannot generate a key for unsupported algorithm %q", alg)
}

// MarshalPrivateKey encodes a private key for storage: PKCS#8 DER for
// asymmetric keys, a copy of the bytes for an HMAC secret.
func MarshalPrivateKey(private any) ([]byte, error) {
	switch k := private.(type) {
	case []byte:
		if len(k) == 0 {
			return nil, errors.New("empty HMAC secret")
		}
		return append([]byte(nil), k...), nil
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		return x509.MarshalPKCS8PrivateKey(k)
	case nil:
		return nil, errors.New("nil private key")
	}
	return nil, fmt.Errorf("unsupported private key type %T", private)
}

// ParsePrivateKey is the inverse of MarshalPrivateKey: for an HMAC alg the
// data is the secret (copied), otherwise PKCS#8 DER. It checks that the key
// fits alg (same rules as verification keys: curve per ES*, RSA of at least
// MinRSABits, Ed25519 for EdDSA, and an HMAC secret of at least the hash size).
func ParsePrivateKey(alg string, data []byte) (any, error) {
	if !KnownAlgorithm(alg) {
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	var private any
	if IsHMAC(alg) {
		private = append([]byte(nil), data...)
	} else {
		k, err := x509.ParsePKCS8PrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s private key: %w", alg, err)
		}
		private = k
	}
	if _, err := checkPrivateKey(alg, private); err != nil {
		return nil, err
	}
	return private, nil
}

// checkPrivateKey verifies that private can sign alg and returns the
// matching public verification material (for HMAC, the secret itself).
func checkPrivateKey(alg string, private any) (public any, err error) {
	if !KnownAlgorithm(alg) {
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	switch k := private.(type) {
	case []byte:
		if min := hmacKeySize(alg); len(k) < min {
			if min == 0 {
				return nil, fmt.Errorf("algorithm %s does not fit an HMAC secret", alg)
			}
			return nil, fmt.Errorf("%s secret of %d bytes is too short (minimum %d)", alg, len(k), min)
		}
		public = k
	case *ecdsa.PrivateKey:
		public = &k.PublicKey
	case *rsa.PrivateKey:
		public = &k.PublicKey
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("malformed Ed25519 private key")
		}
		public = k.Public()
	case crypto.Signer:
		return nil, fmt.Errorf("unsupported private key type %T", private)
	case nil:
		return nil, errors.New("nil private key")
	default:
		return nil, fmt.Errorf("unsupported private key type %T", private)
	}
	kind, err := kindOf(public)
	if err != nil {
		return nil, err
	}
	if !kindAllows(kind, alg) {
		return nil, fmt.Errorf("algorithm %s does not fit a %s key", alg, kind)
	}
	return public, nil
}
