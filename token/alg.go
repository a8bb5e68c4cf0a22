package token

import "fmt"

// Algorithm names, as they appear in a JWS "alg" header.
const (
	ES256 = "ES256"
	ES384 = "ES384"
	ES512 = "ES512"
	RS256 = "RS256"
	RS384 = "RS384"
	RS512 = "RS512"
	PS256 = "PS256"
	PS384 = "PS384"
	PS512 = "PS512"
	EdDSA = "EdDSA"
	HS256 = "HS256"
	HS384 = "HS384"
	HS512 = "HS512"
)

// KeyKind is the family and size of a key; it decides which algorithms the
// key may verify, so an HMAC algorithm can never run over a public key's bytes.
type KeyKind uint8

// Key kinds.
const (
	KindUnknown KeyKind = iota
	KindP256
	KindP384
	KindP521
	KindRSA
	KindEd25519
	KindHMAC
)

// String names the kind for logs and errors.
func (k KeyKind) String() string {
	switch k {
	case KindP256:
		return "EC P-256"
	case KindP384:
		return "EC P-384"
	case KindP521:
		return "EC P-521"
	case KindRSA:
		return "RSA"
	case KindEd25519:
		return "Ed25519"
	case KindHMAC:
		return "HMAC"
	}
	return "unknown"
}

// Algorithms lists every algorithm a key of this kind can verify.
func (k KeyKind) Algorithms() []string {
	switch k {
	case KindP256:
		return []string{ES256}
	case KindP384:
		return []string{ES384}
	case KindP521:
		return []string{ES512}
	case KindRSA:
		return []string{RS256, RS384, RS512, PS256, PS384, PS512}
	case KindEd25519:
		return []string{EdDSA}
	case KindHMAC:
		return []string{HS256, HS384, HS512}
	}
	return nil
}

// kindAllows reports whether alg belongs to the key kind's family.
func kindAllows(k KeyKind, alg string) bool {
	for _, a := range k.Algorithms() {
		if a == alg {
			return true
		}
	}
	return false
}

// KnownAlgorithm reports whether alg is one authgate implements. "none" never is.
func KnownAlgorithm(alg string) bool {
	switch alg {
	case ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA, HS256, HS384, HS512:
		return true
	}
	return false
}

// IsHMAC reports whether alg is a symmetric (HS*) algorithm.
func IsHMAC(alg string) bool { return alg == HS256 || alg == HS384 || alg == HS512 }

// CheckAlgorithms validates a configured allow-list.
func CheckAlgorithms(algs []string) error {
	for _, a := range algs {
		if !KnownAlgorithm(a) {
			return fmt.Errorf("unsupported algorithm %q (supported: ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512 EdDSA HS256 HS384 HS512)", a)
		}
	}
	return nil
}
