package redis

import "sync"

// familyIndex remembers which family a refresh token hash belongs to (that
// never changes), for the tokens this engine recently stored or read, so
// that RotateRefresh reads the token and its family in one MGET (one round
// trip) instead of two GETs. It is only a hint: the token's record names
// its family, and a hint that disagrees is ignored. Bounded: when full it
// starts over.
type familyIndex struct {
	mu sync.Mutex
	m  map[string]string
}

const familyIndexSize = 4096

func (x *familyIndex) put(hash []byte, family string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m == nil || len(x.m) >= familyIndexSize {
		x.m = make(map[string]string, 256)
	}
	x.m[string(hash)] = family
}

func (x *familyIndex) get(hash []byte) (string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	f, ok := x.m[string(hash)]
	return f, ok
}
