package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"sync"
)

// hmacVerifier verifies HS256/384/512 with pooled keyed hashes. Building an
// HMAC hashes the key into its inner and outer pads; jwx's verifier does
// that on every call, which costs as much as the MAC of a token itself. A
// pooled hmac.Hash is Reset to the keyed state instead. This is the one
// signature path that does not go through jwx's JWS layer.
type hmacVerifier struct {
	secret []byte
	pools  [3]sync.Pool // HS256, HS384, HS512
}

func newHMACVerifier(secret []byte) *hmacVerifier {
	v := &hmacVerifier{secret: secret}
	for i, fn := range []func() hash.Hash{sha256.New, sha512.New384, sha512.New} {
		v.pools[i].New = func() any { return &pooledMAC{h: hmac.New(fn, v.secret)} }
	}
	return v
}

// pooledMAC is a keyed HMAC with its own output buffer, so verifying
// allocates nothing.
type pooledMAC struct {
	h   hash.Hash
	buf [sha512.Size]byte
}

// verify reports whether sig is the MAC of input under alg (constant time).
func (v *hmacVerifier) verify(alg string, input, sig []byte) bool {
	var pool *sync.Pool
	switch alg {
	case HS256:
		pool = &v.pools[0]
	case HS384:
		pool = &v.pools[1]
	case HS512:
		pool = &v.pools[2]
	default:
		return false
	}
	m := pool.Get().(*pooledMAC)
	m.h.Reset()
	m.h.Write(input)
	ok := hmac.Equal(m.h.Sum(m.buf[:0]), sig)
	pool.Put(m)
	return ok
}
