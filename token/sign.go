package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// Common "typ" header values. A Signer precomputes its encoded header for
// each of them; other values are encoded on first use and cached.
const (
	TypAccessToken = "at+jwt" // RFC 9068 JWT access tokens
	TypJWT         = "JWT"
)

// maxCachedTyps bounds the cache of encoded headers for uncommon typ values.
const maxCachedTyps = 16

var signEnc = base64.RawURLEncoding

// Signer signs compact JWS tokens with one private key. It is immutable
// after NewSigner and safe for concurrent use.
type Signer struct {
	kid     string
	alg     string
	private any // *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey or []byte
	sigLen  int // exact signature size in bytes, to size the output buffer
	verify  *Key

	// prefixes maps typ to base64url(header) + ".", for the common typs.
	prefixes map[string][]byte
	// extra caches prefixes of other typ values (at most maxCachedTyps).
	extra  sync.Map
	nextra atomic.Int32
}

// NewSigner checks that private fits alg and prepares a Signer. kid must be
// non-empty: it is how verifiers pick the key during a rotation. private is
// what GenerateKey or ParsePrivateKey return; an HMAC secret is copied.
func NewSigner(kid, alg string, private any) (*Signer, error) {
	if kid == "" {
		return nil, errors.New("signer: empty key id")
	}
	public, err := checkPrivateKey(alg, private)
	if err != nil {
		return nil, fmt.Errorf("signer %q: %w", kid, err)
	}
	s := &Signer{kid: kid, alg: alg, private: private}
	switch k := private.(type) {
	case []byte:
		s.private = append([]byte(nil), k...)
		public = append([]byte(nil), k...) // the verification key gets its own copy
		s.sigLen = hmacKeySize(alg)        // HS256 32, HS384 48, HS512 64: the hash size
	case *ecdsa.PrivateKey:
		s.sigLen = 2 * ((k.Curve.Params().BitSize + 7) / 8)
	case *rsa.PrivateKey:
		s.sigLen = k.Size()
	case ed25519.PrivateKey:
		s.sigLen = ed25519.SignatureSize
	}
	if s.verify, err = NewKey(kid, alg, public, "issuer signing key "+kid); err != nil {
		return nil, fmt.Errorf("signer %q: %w", kid, err)
	}
	s.prefixes = make(map[string][]byte, 3)
	for _, typ := range []string{TypAccessToken, TypJWT, ""} {
		s.prefixes[typ] = s.encodePrefix(typ)
	}
	return s, nil
}

// KeyID returns the "kid" the Signer puts in every header.
func (s *Signer) KeyID() string { return s.kid }

// Alg returns the signing algorithm.
func (s *Signer) Alg() string { return s.alg }

// VerificationKey returns the key that verifies this Signer's tokens, with
// ID and Alg set: the public key, or for HMAC (Kind HMAC) a copy of the
// secret. Every call returns the same *Key, so caches keyed on it stay valid.
// It is for in-process verification and must never be published.
func (s *Signer) VerificationKey() *Key { return s.verify }

// HeaderJSON returns the JSON header Sign uses for typ:
// {"alg":...,"kid":...,"typ":...}, in that order; "typ" is left out when empty.
func (s *Signer) HeaderJSON(typ string) []byte {
	buf := make([]byte, 0, 32+len(s.alg)+len(s.kid)+len(typ))
	buf = append(buf, `{"alg":`...)
	buf = appendJSONString(buf, s.alg)
	buf = append(buf, `,"kid":`...)
	buf = appendJSONString(buf, s.kid)
	if typ != "" {
		buf = append(buf, `,"typ":`...)
		buf = appendJSONString(buf, typ)
	}
	return append(buf, '}')
}

func appendJSONString(buf []byte, v string) []byte {
	q, _ := json.Marshal(v) // a string always marshals
	return append(buf, q...)
}

func (s *Signer) encodePrefix(typ string) []byte {
	hdr := s.HeaderJSON(typ)
	out := make([]byte, 0, signEnc.EncodedLen(len(hdr))+1)
	out = signEnc.AppendEncode(out, hdr)
	return append(out, '.')
}

func (s *Signer) prefix(typ string) []byte {
	if p, ok := s.prefixes[typ]; ok {
		return p
	}
	if p, ok := s.extra.Load(typ); ok {
		return p.([]byte)
	}
	p := s.encodePrefix(typ)
	if s.nextra.Add(1) <= maxCachedTyps {
		if prev, loaded := s.extra.LoadOrStore(typ, p); loaded {
			s.nextra.Add(-1)
			return prev.([]byte)
		}
	} else {
		s.nextra.Add(-1)
	}
	return p
}

// Sign returns the compact JWS of claims, an already-encoded JSON object,
// with the header {"alg":...,"kid":...,"typ":typ} ("typ" omitted when empty).
// Besides what the signature algorithm itself allocates, the token is built
// in one allocation.
func (s *Signer) Sign(typ string, claims []byte) (string, error) {
	if len(claims) < 2 || claims[0] != '{' || claims[len(claims)-1] != '}' {
		return "", errors.New("signer: claims must be an encoded JSON object")
	}
	prefix := s.prefix(typ)
	n := len(prefix) + signEnc.EncodedLen(len(claims))
	buf := make([]byte, n, n+1+signEnc.EncodedLen(s.sigLen))
	copy(buf, prefix)
	signEnc.Encode(buf[len(prefix):], claims)
	sig, err := jwsbb.Sign(s.private, s.alg, buf, nil)
	if err != nil {
		return "", fmt.Errorf("signer %q: %w", s.kid, err)
	}
	buf = append(buf, '.')
	buf = signEnc.AppendEncode(buf, sig)
	// buf is never written again, so it can back the string without a copy.
	return unsafe.String(unsafe.SliceData(buf), len(buf)), nil
}

// PublicJWK returns the public JWK of a signing key for a JWKS document:
// kty, crv/x/y (EC), n/e (RSA) or crv/x (OKP), plus kid, alg and use "sig".
// key may be the private key or its public half. HMAC secrets are never
// published: they are an error.
func PublicJWK(kid, alg string, key any) (map[string]any, error) {
	if kid == "" {
		return nil, errors.New("public JWK: empty key id")
	}
	if IsHMAC(alg) {
		return nil, fmt.Errorf("public JWK %q: %s keys are symmetric and never published", kid, alg)
	}
	var public any
	switch k := key.(type) {
	case []byte:
		return nil, fmt.Errorf("public JWK %q: symmetric keys are never published", kid)
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		kind, err := kindOf(k)
		if err != nil {
			return nil, fmt.Errorf("public JWK %q: %w", kid, err)
		}
		if !KnownAlgorithm(alg) || !kindAllows(kind, alg) {
			return nil, fmt.Errorf("public JWK %q: algorithm %q does not fit a %s key", kid, alg, kind)
		}
		public = k
	default:
		var err error
		if public, err = checkPrivateKey(alg, key); err != nil {
			return nil, fmt.Errorf("public JWK %q: %w", kid, err)
		}
	}
	jk, err := jwk.Import(public)
	if err != nil {
		return nil, fmt.Errorf("public JWK %q: %w", kid, err)
	}
	for _, kv := range [][2]string{{jwk.KeyIDKey, kid}, {jwk.AlgorithmKey, alg}, {jwk.KeyUsageKey, "sig"}} {
		if err := jk.Set(kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("public JWK %q: setting %s: %w", kid, kv[0], err)
		}
	}
	data, err := json.Marshal(jk)
	if err != nil {
		return nil, fmt.Errorf("public JWK %q: %w", kid, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("public JWK %q: %w", kid, err)
	}
	for _, private := range privateJWKMembers {
		if _, ok := m[private]; ok { // defence in depth: never publish a private member
			return nil, fmt.Errorf("public JWK %q: private member %q in output", kid, private)
		}
	}
	return m, nil
}

var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
