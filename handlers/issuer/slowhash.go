package issuer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// Bounds of slow secret hashes, checked when a hash is configured. Every
// authentication attempt against a hash allocates its memory and burns its
// CPU before the secret is known to be right, so the bounds are what one
// unauthenticated request may cost.
const (
	// MaxArgon2idMemoryKiB is RFC 9106 §4's second recommended option
	// (64 MiB), the strongest that suits a proxy.
	MaxArgon2idMemoryKiB = 64 << 10
	// MaxArgon2idTime bounds the passes (RFC 9106 recommends 3).
	MaxArgon2idTime = 10
	// MaxArgon2idParallelism bounds the lanes (RFC 9106 recommends 4).
	MaxArgon2idParallelism = 16
	// MaxBcryptCost is the cost `caddy hash-password` uses by default
	// (about one CPU-second per attempt).
	MaxBcryptCost = 14
	// bcryptMaxSecret is how many secret bytes bcrypt reads; longer secrets
	// never match a bcrypt hash (see slowVerify).
	bcryptMaxSecret = 72
)

// Process-wide bounds of concurrent slow-hash verifications (see
// HashLimiter). The memory budget admits one verification at the largest
// argon2id memory at a time; with Go's GC (GOGC=100) a burst then peaks at
// about twice the budget.
const (
	DefaultHashMemoryKiB = MaxArgon2idMemoryKiB
	bcryptWeightKiB      = 16 // bcrypt's state is ~4 KiB; its cost is CPU
	// gcAfterArgon2idKiB is the argon2id memory from which a verification
	// collects its garbage before releasing its budget (see slowVerify):
	// a quarter of the budget, where the garbage of a flood would
	// otherwise reach several times the budget.
	gcAfterArgon2idKiB = DefaultHashMemoryKiB / 4
)

// errHashBusy means a slow-hash verification was refused because the
// process already runs as many as its budget allows.
var errHashBusy = errors.New("too many concurrent secret verifications")

// HashLimiter bounds concurrent slow-hash (argon2id, bcrypt) verifications
// by a memory budget (each weighs its memory) and by a count (each burns a
// core). Acquisition never waits: an attempt beyond the bounds fails at once
// (the token endpoint answers 503 with Retry-After), so a flood of wrong
// secrets costs at most the budget, never a queue of goroutines holding
// requests.
type HashLimiter struct {
	maxKiB int64
	maxN   int

	mu  sync.Mutex
	kib int64
	n   int
}

// NewHashLimiter returns a limiter admitting verifications while their
// memory (KiB) stays within maxKiB and at most maxN run at once; maxN <= 0
// means GOMAXPROCS (at least 2).
func NewHashLimiter(maxKiB int64, maxN int) *HashLimiter {
	if maxN <= 0 {
		maxN = max(runtime.GOMAXPROCS(0), 2)
	}
	return &HashLimiter{maxKiB: maxKiB, maxN: maxN}
}

// sharedHashLimiter is the process-wide limiter of every issuer: it holds
// no configuration, so a package variable is process-wide across reloads by
// construction. Tests inject their own through Config.HashLimiter.
var sharedHashLimiter = NewHashLimiter(DefaultHashMemoryKiB, 0)

func (l *HashLimiter) tryAcquire(kib int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.maxN || l.kib+kib > l.maxKiB {
		return false
	}
	l.n++
	l.kib += kib
	return true
}

func (l *HashLimiter) release(kib int64) {
	l.mu.Lock()
	l.n--
	l.kib -= kib
	l.mu.Unlock()
}

// weightKiB is what one verification against h costs in the budget.
func (h *secretHash) weightKiB() int64 {
	if h.kind == hashArgon2id {
		return int64(h.argon.memory)
	}
	return bcryptWeightKiB
}

// dummySet is what attempts for unknown client ids are checked against: one
// re-randomized copy of each slow-hash client's secret hashes (same kinds,
// parameters and expiries, random salts and keys), so an unknown id costs
// what a wrong secret of one of those clients costs (as Caddy's basic_auth
// does with its fake hash). Each id is mapped to one copy by a keyed hash,
// so repeated attempts with one id cost the same, and with several slow-hash
// parameter sets a light (or heavy) time does not tell that an id exists:
// unknown ids take every configured time too. Random values never match
// anything. Without slow-hash clients it is one random SHA-256.
type dummySet struct {
	key    [sha256.Size]byte
	copies [][]secretHash
}

// dummySecrets builds the dummySet of clients. The key is derived from the
// configured slow hashes (their salts are not public), so an unknown id maps
// to the same copy across restarts of the same configuration.
func dummySecrets(clients map[string]*client) (*dummySet, error) {
	ids := make([]string, 0, len(clients))
	for id, c := range clients {
		for idx := range c.secrets {
			if c.secrets[idx].kind != hashSHA256 {
				ids = append(ids, id)
				break
			}
		}
	}
	sort.Strings(ids)
	d := &dummySet{}
	kh := sha256.New()
	kh.Write([]byte("authgate-dummy-v1"))
	for _, id := range ids {
		src := clients[id].secrets
		cp := make([]secretHash, len(src))
		for idx := range src {
			kh.Write([]byte{0})
			kh.Write([]byte(src[idx].encoded))
			h, err := randomLike(&src[idx])
			if err != nil {
				return nil, err
			}
			cp[idx] = h
		}
		d.copies = append(d.copies, cp)
	}
	kh.Sum(d.key[:0])
	if len(d.copies) == 0 {
		var h secretHash
		h.kind = hashSHA256
		if _, err := rand.Read(h.sum[:]); err != nil {
			return nil, err
		}
		d.copies = [][]secretHash{{h}}
	}
	return d, nil
}

// forID returns the copy an attempt for the unknown id is checked against.
func (d *dummySet) forID(id string) []secretHash {
	if len(d.copies) == 1 {
		return d.copies[0]
	}
	m := hmac.New(sha256.New, d.key[:])
	m.Write([]byte(id))
	sum := m.Sum(nil)
	return d.copies[binary.BigEndian.Uint64(sum)%uint64(len(d.copies))]
}

// randomLike returns a hash of the same kind, parameters and expiry as h,
// with random content.
func randomLike(h *secretHash) (secretHash, error) {
	d := secretHash{kind: h.kind, bcryptCost: h.bcryptCost, expires: h.expires}
	switch h.kind {
	case hashSHA256:
		if _, err := rand.Read(d.sum[:]); err != nil {
			return d, err
		}
	case hashArgon2id:
		d.argon = argonParams{memory: h.argon.memory, time: h.argon.time, threads: h.argon.threads,
			salt: make([]byte, len(h.argon.salt)), key: make([]byte, len(h.argon.key))}
		if _, err := rand.Read(d.argon.salt); err != nil {
			return d, err
		}
		if _, err := rand.Read(d.argon.key); err != nil {
			return d, err
		}
		d.encoded = "dummy-argon2id"
	case hashBcrypt:
		raw := make([]byte, 16+23)
		if _, err := rand.Read(raw); err != nil {
			return d, err
		}
		enc := base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)
		d.encoded = fmt.Sprintf("$2b$%02d$%s%s", h.bcryptCost, enc.EncodeToString(raw[:16]), enc.EncodeToString(raw[16:]))
	}
	return d, nil
}
