package issuer

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Algorithms of HashSecretWith.
const (
	HashAlgSHA256   = "sha256"
	HashAlgBcrypt   = "bcrypt"
	HashAlgArgon2id = "argon2id"
)

// Parameters of the hashes HashSecretWith makes: within the bounds a
// secret_hash may have (MaxArgon2idMemoryKiB, MaxBcryptCost), so every
// token request stays affordable.
const (
	hashArgonMemoryKiB = 19 * 1024 // OWASP's argon2id minimum
	hashArgonTime      = 2
	hashArgonThreads   = 1
	hashBcryptCost     = 10
)

// HashSecretWith hashes a client secret for `secret_hash`: sha256 (for
// generated, high-entropy secrets), bcrypt or argon2id (for secrets people
// chose). The result parses as a secret hash.
func HashSecretWith(alg, secret string) (string, error) {
	if secret == "" {
		return "", fmt.Errorf("empty secret")
	}
	if len(secret) > maxSecretBytes {
		return "", fmt.Errorf("secret longer than %d bytes", maxSecretBytes)
	}
	switch alg {
	case HashAlgSHA256, "":
		return HashSecret(secret), nil
	case HashAlgBcrypt:
		if len(secret) > bcryptMaxSecret {
			return "", fmt.Errorf("bcrypt reads only %d bytes; this secret is longer (use argon2id)", bcryptMaxSecret)
		}
		h, err := bcrypt.GenerateFromPassword([]byte(secret), hashBcryptCost)
		return string(h), err
	case HashAlgArgon2id:
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return "", err
		}
		key := argon2.IDKey([]byte(secret), salt, hashArgonTime, hashArgonMemoryKiB, hashArgonThreads, 32)
		return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", hashArgonMemoryKiB, hashArgonTime, hashArgonThreads,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
	}
	return "", fmt.Errorf("unknown algorithm %q (want argon2id, bcrypt or sha256)", alg)
}
