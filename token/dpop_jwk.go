package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
)

// proofJWK is the public JWK of a DPoP proof header: the members the key
// needs, as their exact base64url strings (the thumbprint hashes them).
type proofJWK struct {
	kty, crv, x, y, n, e string
}

// jwkPrivateMembers are the private (or symmetric) members of a JWK (RFC
// 7518 §6.2.2, §6.3.2, §6.4): a proof carrying one is refused, the client
// has leaked its key.
var jwkPrivateMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseProofJWK builds the verification key of a proof from its jwk header
// and returns it with its RFC 7638 thumbprint. Coordinates and moduli must be
// canonical (exact length, strict base64url, no leading zero), so one key has
// one thumbprint.
func parseProofJWK(raw []byte, alg string) (*Key, string, *Error) {
	var j proofJWK
	err := eachHeaderMember(raw, func(name, value []byte) error {
		for _, p := range jwkPrivateMembers {
			if string(name) == p {
				return dpopError("proof jwk has private member %q", p)
			}
		}
		var dst *string
		switch string(name) {
		case "kty":
			dst = &j.kty
		case "crv":
			dst = &j.crv
		case "x":
			dst = &j.x
		case "y":
			dst = &j.y
		case "n":
			dst = &j.n
		case "e":
			dst = &j.e
		}
		return setDPoPString(dst, "jwk member", name, value)
	})
	if err != nil {
		return nil, "", asDPoPError(err, "jwk")
	}
	var material any
	var thumb []byte
	switch j.kty {
	case "EC":
		var curve elliptic.Curve
		var size int
		switch j.crv {
		case "P-256":
			curve, size = elliptic.P256(), 32
		case "P-384":
			curve, size = elliptic.P384(), 48
		case "P-521":
			curve, size = elliptic.P521(), 66
		default:
			return nil, "", dpopError("proof jwk curve is not supported")
		}
		x, okx := fixedB64(j.x, size)
		y, oky := fixedB64(j.y, size)
		if !okx || !oky {
			return nil, "", dpopError("proof jwk coordinates are malformed")
		}
		point := make([]byte, 0, 1+2*size)
		point = append(append(append(point, 4), x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, "", dpopError("proof jwk is not a point on its curve")
		}
		material = pub
		thumb = thumbJSON("crv", j.crv, "kty", "EC", "x", j.x, "y", j.y)
	case "OKP":
		if j.crv != "Ed25519" {
			return nil, "", dpopError("proof jwk curve is not supported")
		}
		x, ok := fixedB64(j.x, ed25519.PublicKeySize)
		if !ok {
			return nil, "", dpopError("proof jwk x is malformed")
		}
		material = ed25519.PublicKey(x)
		thumb = thumbJSON("crv", j.crv, "kty", "OKP", "x", j.x)
	case "RSA":
		n, okn := unsignedB64(j.n, MaxDPoPRSABits/8)
		e, oke := unsignedB64(j.e, 4)
		if !okn || !oke {
			return nil, "", dpopError("proof jwk modulus or exponent is malformed")
		}
		ev := new(big.Int).SetBytes(e).Int64()
		if ev < 3 || ev%2 == 0 || ev > 1<<31-1 {
			return nil, "", dpopError("proof jwk exponent is not acceptable")
		}
		material = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev)}
		thumb = thumbJSON("e", j.e, "kty", "RSA", "n", j.n)
	default:
		return nil, "", dpopError("proof jwk kty is not supported")
	}
	key, kerr := NewKey("", "", material, "DPoP proof")
	if kerr != nil {
		return nil, "", dpopError("proof jwk: %v", kerr)
	}
	if !key.Allows(alg) {
		return nil, "", dpopError("proof algorithm %s does not fit a %s key", alg, key.Kind)
	}
	sum := sha256.Sum256(thumb)
	return key, base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// JWKThumbprint is the RFC 7638 SHA-256 thumbprint (base64url) of a public
// JWK given as JSON, as a DPoP proof carries it; alg is the algorithm the
// key is to be used with.
func JWKThumbprint(jwk []byte, alg string) (string, error) {
	_, jkt, err := parseProofJWK(jwk, alg)
	if err != nil {
		return "", err
	}
	return jkt, nil
}

// fixedB64 decodes strict base64url of exactly size bytes.
func fixedB64(s string, size int) ([]byte, bool) {
	if b64.DecodedLen(len(s)) != size {
		return nil, false
	}
	out, err := b64.DecodeString(s)
	return out, err == nil && len(out) == size
}

// unsignedB64 decodes a strict base64url big-endian unsigned integer of at
// most max bytes, without leading zero bytes (RFC 7518 §6.3.1).
func unsignedB64(s string, max int) ([]byte, bool) {
	if s == "" || b64.DecodedLen(len(s)) > max {
		return nil, false
	}
	out, err := b64.DecodeString(s)
	return out, err == nil && len(out) > 0 && out[0] != 0
}

// thumbJSON renders RFC 7638's canonical JSON: the required members in
// lexicographic order, no white space. Values are base64url or fixed
// names (validated by the caller), so they need no escaping.
func thumbJSON(kv ...string) []byte {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), kv[i]...), `":"`...)
		b = append(append(b, kv[i+1]...), '"')
	}
	return append(b, '}')
}
