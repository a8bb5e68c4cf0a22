package issuer

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Secret hash kinds.
const (
	hashSHA256 uint8 = iota + 1
	hashBcrypt
	hashArgon2id
)

// maxSecretBytes bounds a presented client secret; longer ones fail without
// any hashing work.
const maxSecretBytes = 1024

// secretHash is one accepted client secret, hashed.
type secretHash struct {
	kind    uint8
	sum     [sha256.Size]byte // hashSHA256
	encoded string            // bcrypt / argon2id encoded hash
	argon   argonParams
	// bcryptCost is the cost of a bcrypt hash.
	bcryptCost int
	expires    time.Time // zero: never
}

type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// HashSecret returns the "sha256:<hex>" form of a client secret, the hash
// that `secret_hash` accepts and that plain `secret` values are reduced to.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// parseSecretHash parses "sha256:<hex>", a bcrypt hash ("$2a$", "$2b$",
// "$2y$") or an argon2id PHC string ("$argon2id$v=19$m=..,t=..,p=..$salt$key").
func parseSecretHash(s string) (secretHash, error) {
	switch {
	case strings.HasPrefix(s, "sha256:"):
		raw, err := hex.DecodeString(s[len("sha256:"):])
		if err != nil || len(raw) != sha256.Size {
			return secretHash{}, errors.New("sha256 secret hash must be 64 hex digits")
		}
		h := secretHash{kind: hashSHA256}
		copy(h.sum[:], raw)
		return h, nil
	case strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil {
			return secretHash{}, fmt.Errorf("malformed bcrypt hash: %v", err)
		}
		// Every attempt, right or wrong, pays the cost before the
		// secret is known: it is bounded like argon2id's parameters.
		if cost > MaxBcryptCost {
			return secretHash{}, fmt.Errorf("bcrypt cost %d too large (at most %d)", cost, MaxBcryptCost)
		}
		return secretHash{kind: hashBcrypt, encoded: s, bcryptCost: cost}, nil
	case strings.HasPrefix(s, "$argon2id$"):
		p, err := parseArgon2id(s)
		if err != nil {
			return secretHash{}, err
		}
		return secretHash{kind: hashArgon2id, encoded: s, argon: p}, nil
	}
	return secretHash{}, errors.New("unsupported secret hash (want sha256:<hex>, bcrypt $2a$/$2b$/$2y$, or $argon2id$)")
}

func parseArgon2id(s string) (argonParams, error) {
	// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return argonParams{}, errors.New("malformed argon2id hash")
	}
	if parts[2] != "v=19" {
		return argonParams{}, errors.New("unsupported argon2id version (want v=19)")
	}
	var p argonParams
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return argonParams{}, errors.New("malformed argon2id parameters")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return argonParams{}, errors.New("malformed argon2id parameters")
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return argonParams{}, fmt.Errorf("argon2id parallelism too large (at most p=%d)", MaxArgon2idParallelism)
			}
			p.threads = uint8(n)
		default:
			return argonParams{}, errors.New("unknown argon2id parameter " + k)
		}
	}
	if p.memory == 0 || p.time == 0 || p.threads == 0 {
		return argonParams{}, errors.New("argon2id hash needs m, t and p")
	}
	// Every authentication attempt of the client, right or wrong, allocates
	// m KiB and runs t passes on p goroutines before the secret is known.
	if p.memory > MaxArgon2idMemoryKiB || p.time > MaxArgon2idTime || p.threads > MaxArgon2idParallelism {
		return argonParams{}, fmt.Errorf("argon2id parameters m=%d,t=%d,p=%d too large (at most m=%d (64 MiB), t=%d, p=%d)",
			p.memory, p.time, p.threads, MaxArgon2idMemoryKiB, MaxArgon2idTime, MaxArgon2idParallelism)
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return argonParams{}, errors.New("malformed argon2id salt (8 to 64 bytes)")
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return argonParams{}, errors.New("malformed argon2id key (16 to 64 bytes)")
	}
	return p, nil
}

// slowCache remembers, for a short time, that a secret matched a slow
// (bcrypt, argon2id) hash, so that repeated authentication of the same client
// costs one SHA-256. Only successes are cached, keyed by a digest of client
// id, presented secret and stored hash: a wrong secret can never hit.
type slowCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]time.Time
}

func newSlowCache(ttl time.Duration, max int) *slowCache {
	return &slowCache{ttl: ttl, max: max, entries: make(map[[sha256.Size]byte]time.Time)}
}

func slowKey(clientID, secret, encoded string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(clientID))
	h.Write([]byte{0})
	h.Write([]byte(secret))
	h.Write([]byte{0})
	h.Write([]byte(encoded))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *slowCache) hit(k [sha256.Size]byte, now time.Time) bool {
	c.mu.Lock()
	exp, ok := c.entries[k]
	if ok && !now.Before(exp) {
		delete(c.entries, k)
		ok = false
	}
	c.mu.Unlock()
	return ok
}

func (c *slowCache) add(k [sha256.Size]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for key, exp := range c.entries {
			if !now.Before(exp) {
				delete(c.entries, key)
			}
		}
		// Still full: drop arbitrary entries (they only cost a re-hash).
		for key := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, key)
		}
	}
	c.entries[k] = now.Add(c.ttl)
}

// verifyHashes checks secret against hashes on behalf of clientID. A slow
// hash is computed at most once for concurrent identical attempts
// (singleflight), only within the limiter's budget, and a success is cached
// (slowCache) so that repeated authentication costs one SHA-256.
func (i *Issuer) verifyHashes(clientID string, hashes []secretHash, secret string, now time.Time) (bool, error) {
	if len(secret) == 0 || len(secret) > maxSecretBytes {
		return false, nil
	}
	var sum [sha256.Size]byte
	haveSum := false
	matched := false
	for idx := range hashes {
		h := &hashes[idx]
		if !h.expires.IsZero() && !now.Before(h.expires) {
			continue
		}
		switch h.kind {
		case hashSHA256:
			if !haveSum {
				sum = sha256.Sum256([]byte(secret))
				haveSum = true
			}
			if subtle.ConstantTimeCompare(sum[:], h.sum[:]) == 1 {
				matched = true
			}
		case hashBcrypt, hashArgon2id:
			if matched {
				continue
			}
			k := slowKey(clientID, secret, h.encoded)
			if i.slow.hit(k, now) {
				matched = true
				continue
			}
			v, err, _ := i.flight.Do(string(k[:]), func() (any, error) {
				return i.slowVerify(h, secret, k, now)
			})
			if err != nil {
				return false, err
			}
			if v.(bool) {
				matched = true
			}
		}
	}
	return matched, nil
}

// slowVerify computes one slow hash within the limiter's budget and caches a
// success.
func (i *Issuer) slowVerify(h *secretHash, secret string, k [sha256.Size]byte, now time.Time) (bool, error) {
	ok, err := i.slowCompare(h, secret)
	if ok {
		i.slow.add(k, now)
	}
	return ok, err
}

// slowCompare computes one slow hash within the limiter's budget (no cache:
// passwords go through it directly).
func (i *Issuer) slowCompare(h *secretHash, secret string) (bool, error) {
	w := h.weightKiB()
	if !i.limiter.tryAcquire(w) {
		return false, errHashBusy
	}
	defer i.limiter.release(w)
	if i.hashHook != nil {
		i.hashHook()
	}
	var ok bool
	if h.kind == hashBcrypt {
		// bcrypt reads only the first 72 bytes: a longer secret would
		// match whatever it continues with. It is refused, after the
		// same work as any other attempt.
		ok = bcrypt.CompareHashAndPassword([]byte(h.encoded), []byte(secret)) == nil && len(secret) <= bcryptMaxSecret
	} else {
		a := &h.argon
		key := argon2.IDKey([]byte(secret), a.salt, a.time, a.memory, a.threads, uint32(len(a.key)))
		ok = subtle.ConstantTimeCompare(key, a.key) == 1
		if a.memory >= gcAfterArgon2idKiB {
			// argon2 leaves its memory (up to the whole budget) as
			// garbage; the GC would let the heap grow to twice the
			// live size before reclaiming it, so back-to-back attempts
			// would hold several budgets' worth. Collect before the
			// budget admits the next one, which then reuses the pages.
			runtime.GC()
		}
	}
	return ok, nil
}
