package issuer

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
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

// heavier reports whether a costs more per attempt than b.
func heavier(a, b *secretHash) bool {
	if a.kind != b.kind {
		return a.kind == hashArgon2id // 64 MiB of argon2id outweighs a bcrypt
	}
	if a.kind == hashArgon2id {
		return uint64(a.argon.memory)*uint64(a.argon.time) > uint64(b.argon.memory)*uint64(b.argon.time)
	}
	return a.bcryptCost > b.bcryptCost
}

// dummySecrets returns the secrets an attempt for an unknown client (or one
// without secrets) is checked against: a random hash of the heaviest slow
// hash any client uses, so an unknown id costs what a wrong secret of a
// slow-hash client costs (as Caddy's basic_auth does with its fake hash).
// Random values never match anything; with only SHA-256 clients it is a
// SHA-256.
func dummySecrets(clients map[string]*client) ([]secretHash, error) {
	var worst *secretHash
	for _, c := range clients {
		for idx := range c.secrets {
			h := &c.secrets[idx]
			if h.kind == hashSHA256 {
				continue
			}
			if worst == nil || heavier(h, worst) {
				worst = h
			}
		}
	}
	if worst == nil {
		var d secretHash
		d.kind = hashSHA256
		if _, err := rand.Read(d.sum[:]); err != nil {
			return nil, err
		}
		return []secretHash{d}, nil
	}
	d := secretHash{kind: worst.kind, bcryptCost: worst.bcryptCost}
	switch worst.kind {
	case hashArgon2id:
		d.argon = argonParams{memory: worst.argon.memory, time: worst.argon.time, threads: worst.argon.threads,
			salt: make([]byte, len(worst.argon.salt)), key: make([]byte, len(worst.argon.key))}
		if _, err := rand.Read(d.argon.salt); err != nil {
			return nil, err
		}
		if _, err := rand.Read(d.argon.key); err != nil {
			return nil, err
		}
		d.encoded = "dummy-argon2id"
	case hashBcrypt:
		raw := make([]byte, 16+23)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		enc := base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)
		d.encoded = fmt.Sprintf("$2b$%02d$%s%s", worst.bcryptCost, enc.EncodeToString(raw[:16]), enc.EncodeToString(raw[16:]))
	}
	return []secretHash{d}, nil
}
