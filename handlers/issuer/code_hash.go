package issuer

import "crypto/sha256"

// codeHash is the key an authorization code is stored under
// (store.CodeRecord.Hash): SHA-256 of the code string. A code is 256
// random bits, so a plain hash is enough: the store never holds a value
// that redeems.
func codeHash(code string) []byte {
	sum := sha256.Sum256([]byte(code))
	return sum[:]
}
