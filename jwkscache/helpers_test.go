package jwkscache

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// testKey is a public JWK as a server would publish it.
type testKey struct {
	kid, alg string
	json     json.RawMessage
}

func publicJWK(t testing.TB, pub any, kid, alg, use string) testKey {
	t.Helper()
	return testKey{kid: kid, alg: alg, json: testutil.PublicJWK(t, pub, kid, alg, use)}
}

func ecKey(t testing.TB, kid string) testKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return publicJWK(t, &priv.PublicKey, kid, "ES256", "sig")
}

func edKey(t testing.TB, kid string) testKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return publicJWK(t, pub, kid, "EdDSA", "sig")
}

// RSA generation is slow under -race: one key per test binary.
var rsaPriv = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func rsaKey(t testing.TB, kid, use string) testKey {
	return publicJWK(t, &rsaPriv().PublicKey, kid, "RS256", use)
}

func jwksBody(keys ...testKey) []byte {
	raws := make([]json.RawMessage, len(keys))
	for i, k := range keys {
		raws[i] = k.json
	}
	return testutil.JWKS(raws...)
}

// jwksServer serves a JWKS (at every path) that tests can swap, fail or
// slow down, and counts the requests it gets.
type jwksServer struct{ *testutil.KeySetServer }

func newJWKSServer(t testing.TB, keys ...testKey) *jwksServer {
	s := &jwksServer{testutil.NewKeySetServer(t, "")}
	s.SetContentType("application/json")
	s.setKeys(keys...)
	return s
}

func (s *jwksServer) setKeys(keys ...testKey) {
	kids := make([]string, len(keys))
	for i, k := range keys {
		kids[i] = k.kid
	}
	s.Publish(kids, jwksBody(keys...))
}

func (s *jwksServer) setBody(b []byte) { s.Publish(nil, b) }

// newFakeClock is the cache's clock for staleness tests; timers stay real.
func newFakeClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
}

// testObserver records Observer events.
type testObserver struct {
	mu       sync.Mutex
	fetched  map[string]int // result -> count
	refetch  int
	suppress int
}

func (o *testObserver) Fetched(_, result string, _ int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fetched == nil {
		o.fetched = map[string]int{}
	}
	o.fetched[result]++
}

func (o *testObserver) UnknownKidRefetch(_ string, suppressed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if suppressed {
		o.suppress++
	} else {
		o.refetch++
	}
}

func (o *testObserver) counts() (fetched map[string]int, refetch, suppressed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[string]int{}
	for k, v := range o.fetched {
		m[k] = v
	}
	return m, o.refetch, o.suppress
}

type testEnv struct {
	cache *Cache
	logs  *testutil.Logs
	obs   *testObserver
}

func newTestCache(t testing.TB, cfg CacheConfig) *testEnv {
	logger, logs := testutil.NewLogs()
	env := &testEnv{logs: logs, obs: &testObserver{}}
	cfg.Logger = logger
	cfg.Observer = env.obs
	env.cache = NewCache(cfg)
	t.Cleanup(env.cache.Close)
	return env
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
