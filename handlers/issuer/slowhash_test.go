package issuer

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// README's argon2id example, the reproduction: m=64 MiB, t=3, p=4
// (the secret is "s3cret-value").
const testArgon2idHeavy = "$argon2id$v=19$m=65536,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$MVAaizvK46UCka3zeyeD0zOSx+f+9MAWWuyq/jc/jp4"

// Slow-hash parameters beyond the caps are configuration errors: each
// attempt, right or wrong, pays them before the secret is known.
func TestSlowHashParameterCaps(t *testing.T) {
	for _, h := range []string{
		"$argon2id$v=19$m=65537,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MVAaizvK46UCka3zeyeD0zOSx+f+9MAWWuyq/jc/jp4",
		"$argon2id$v=19$m=4194304,t=64,p=255$MDEyMzQ1Njc4OWFiY2RlZg$MVAaizvK46UCka3zeyeD0zOSx+f+9MAWWuyq/jc/jp4",
		"$argon2id$v=19$m=8192,t=11,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MVAaizvK46UCka3zeyeD0zOSx+f+9MAWWuyq/jc/jp4",
		"$argon2id$v=19$m=8192,t=1,p=17$MDEyMzQ1Njc4OWFiY2RlZg$MVAaizvK46UCka3zeyeD0zOSx+f+9MAWWuyq/jc/jp4",
		"$2a$15$FVzVNxAjeWcBYx79N/jz1OeL.Ch/0.fiurZlQCzpNkJ.FQcZwOdVK",
		"$2a$31$FVzVNxAjeWcBYx79N/jz1OeL.Ch/0.fiurZlQCzpNkJ.FQcZwOdVK",
	} {
		_, err := parseSecretHash(h)
		if err == nil || !strings.Contains(err.Error(), "at most") {
			t.Errorf("%s: want an 'at most' error, got %v", h, err)
		}
	}
	for _, h := range []string{testArgon2id, testArgon2idHeavy, testBcrypt,
		"$2a$14$FVzVNxAjeWcBYx79N/jz1OeL.Ch/0.fiurZlQCzpNkJ.FQcZwOdVK"} {
		if _, err := parseSecretHash(h); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}

// slowEnv is an issuer with argon2id clients; withStore adds a store (for
// issuance).
func slowEnv(t *testing.T, lim *HashLimiter, withStore bool) *testEnv {
	t.Helper()
	return newTestEnv(t, withStore, func(cfg *Config) {
		cfg.HashLimiter = lim
		cfg.Clients = append(cfg.Clients,
			ClientConfig{ID: "ar", Secrets: []SecretConfig{{Hash: testArgon2id}}},
			ClientConfig{ID: "ar-off", Secrets: []SecretConfig{{Hash: testArgon2id}}, Disabled: true},
			ClientConfig{ID: "ar-lan", Secrets: []SecretConfig{{Hash: testArgon2id}}, AllowIP: []string{"192.168.0.0/16"}},
			ClientConfig{ID: "ar-post", Secrets: []SecretConfig{{Hash: testArgon2id}}, AuthMethods: []string{AuthClientSecretPost}},
		)
	})
}

// An unknown, disabled, IP-refused or wrong-method client costs one slow
// hash, exactly like a wrong secret of a slow-hash client: time does not
// tell them apart.
func TestRefusedClientsCostASlowHash(t *testing.T) {
	e := slowEnv(t, NewHashLimiter(1<<20, 8), true)
	var hashes atomic.Int64
	e.iss.hashHook = func() { hashes.Add(1) }
	cc := url.Values{"grant_type": {GrantClientCredentials}}
	for _, id := range []string{"ar", "nobody", "ar-off", "ar-lan", "ar-post"} {
		hashes.Store(0)
		wantOAuthError(t, e.do("POST", "/oauth/token", cc, id, "wrong-"+id), 401, errInvalidClient)
		if n := hashes.Load(); n != 1 {
			t.Errorf("client %q: %d slow hashes, want 1 (as for a wrong secret)", id, n)
		}
	}
	// The success cache still works: the second right attempt costs none.
	hashes.Store(0)
	e.token("ar", "s3cret-value", nil)
	e.token("ar", "s3cret-value", nil)
	if n := hashes.Load(); n != 1 {
		t.Fatalf("%d slow hashes for two right attempts, want 1 (cached)", n)
	}
}

// Concurrent identical attempts share one computation (singleflight); beyond
// the limiter's bounds an attempt fails at once with 503 + Retry-After in
// RFC 6749 shape, never waiting in a queue.
func TestSlowHashSingleflightAndLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := slowEnv(t, NewHashLimiter(1<<20, 1), false) // one slow hash at a time
		release := make(chan struct{})
		var hashes atomic.Int64
		e.iss.hashHook = func() { hashes.Add(1); <-release }
		cc := url.Values{"grant_type": {GrantClientCredentials}}
		const n = 8
		results := make([]resp, n)
		var wg sync.WaitGroup
		for k := range n {
			wg.Go(func() { results[k] = e.do("POST", "/oauth/token", cc, "ar", "same-wrong-secret") })
		}
		synctest.Wait() // all 8 blocked: one in the hash, 7 waiting for it
		// A different secret finds the only slot taken: 503 at once.
		busy := e.do("POST", "/oauth/token", cc, "ar", "another-wrong-secret")
		wantOAuthError(t, busy, 503, errTemporarilyUnavailable)
		if busy.header.Get("Retry-After") != "1" {
			t.Fatalf("503 without Retry-After: %v", busy.header)
		}
		// So does an unknown client: the dummy hash takes the same slot.
		wantOAuthError(t, e.do("POST", "/oauth/token", cc, "nobody", "x"), 503, errTemporarilyUnavailable)
		close(release)
		wg.Wait()
		for _, r := range results {
			wantOAuthError(t, r, 401, errInvalidClient)
		}
		if got := hashes.Load(); got != 1 {
			t.Fatalf("%d slow hashes for %d identical attempts, want 1", got, n)
		}
	})
}

// bcrypt reads 72 bytes: a longer presented secret never matches, even when
// its first 72 bytes are the secret.
func TestBcryptLongSecretRefused(t *testing.T) {
	// $2a$04$ hash of 72 × "a".
	const h72 = "$2a$04$xq/9VCn8sU6aTtiR4eXn4.jZor9f80QuUX.p.s6sbwZDgDd196jPi"
	e := newEnv(t, func(c *Config) {
		c.Clients = append(c.Clients, ClientConfig{ID: "bc72", Secrets: []SecretConfig{{Hash: h72}}})
	})
	long := strings.Repeat("a", 72)
	e.token("bc72", long, nil)
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "bc72", long+"-anything"), 401, errInvalidClient)
}

// 64 concurrent wrong-secret requests against README's argon2id example
// (m=64 MiB, t=3, p=4) keep the process's peak memory under 300 MiB. The
// burst runs in a child process so that VmHWM (peak resident set) measures
// it alone.
func TestSlowHashBurstMemory(t *testing.T) {
	if os.Getenv("AUTHGATE_SLOWHASH_CHILD") == "1" {
		slowHashBurstChild(t)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child that runs 64 argon2id attempts")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc/self/status (Linux)")
	}
	if testutil.RaceEnabled {
		// .ci/run runs this test once more without -race.
		t.Skip("the race detector's shadow memory inflates the resident set; run without -race")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSlowHashBurstMemory$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "AUTHGATE_SLOWHASH_CHILD=1", "GOGC=100", "GOMEMLIMIT=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var before, after int64 = -1, -1
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "HWM_BEFORE_KB="); i >= 0 {
			before, _ = strconv.ParseInt(strings.Fields(line[i+len("HWM_BEFORE_KB="):])[0], 10, 64)
		}
		if i := strings.Index(line, "HWM_AFTER_KB="); i >= 0 {
			after, _ = strconv.ParseInt(strings.Fields(line[i+len("HWM_AFTER_KB="):])[0], 10, 64)
		}
	}
	if before < 0 || after < 0 {
		t.Fatalf("child printed no measurement:\n%s", out)
	}
	t.Logf("peak resident set: %d MiB before the bursts, %d MiB after", before>>10, after>>10)
	if after > 300<<10 {
		t.Fatalf("peak resident set %d MiB under 64 concurrent wrong secrets, want < 300 MiB", after>>10)
	}
}

func slowHashBurstChild(t *testing.T) {
	cfg := baseConfig()
	cfg.Clients = append(cfg.Clients, ClientConfig{ID: "ar", Secrets: []SecretConfig{{Hash: testArgon2idHeavy}}})
	iss, err := New(context.Background(), cfg) // the process-wide limiter
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("HWM_BEFORE_KB=%d\n", vmHWM(t))
	ip := netip.MustParseAddr("10.1.2.3")
	var mu sync.Mutex
	statuses := map[int]int{}
	for burst := range 3 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k := range 64 {
			wg.Go(func() {
				<-start
				f := url.Values{"grant_type": {GrantClientCredentials}, "client_id": {"ar"},
					"client_secret": {fmt.Sprintf("wrong-%d-%d", burst, k)}}
				r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w := httptest.NewRecorder()
				iss.Handle(w, r, ip)
				if w.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(w.Body.String(), `{"error":`) {
					t.Errorf("status %d without RFC 6749 shape: %v %q", w.Code, w.Header(), w.Body.String())
				}
				mu.Lock()
				statuses[w.Code]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
	}
	for code := range statuses {
		if code != 401 && code != 503 {
			t.Errorf("unexpected status %d", code)
		}
	}
	if statuses[401] == 0 {
		t.Errorf("no attempt was verified at all: %v", statuses)
	}
	fmt.Printf("HWM_AFTER_KB=%d statuses=%v\n", vmHWM(t), statuses)
}

func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// A verification collects argon2id's memory before its budget admits the
// next one. Otherwise the garbage of back-to-back attempts (a sustained
// flood of wrong secrets; with singleflight every wave of identical ones is
// a new attempt) piles up to several budgets before the GC reclaims it: a
// real Caddy under 64 concurrent wrong secrets for 8 s peaked at 297-380 MiB
// resident, 121-220 MiB with the collection. Automatic GC is off here, so
// the garbage stays counted unless the verification collected it.
func TestSlowHashLeavesNoGarbage(t *testing.T) {
	h, err := parseSecretHash(testArgon2idHeavy)
	if err != nil {
		t.Fatal(err)
	}
	iss := &Issuer{limiter: NewHashLimiter(DefaultHashMemoryKiB, 1), slow: newSlowCache(time.Minute, 8)}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	k := slowKey("ar", "wrong", h.encoded)
	if ok, err := iss.slowVerify(&h, "wrong", k, time.Now()); ok || err != nil {
		t.Fatalf("wrong secret: ok=%v err=%v", ok, err)
	}
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 16<<20 {
		t.Fatalf("a finished verification left %d MiB of heap behind (m=64 MiB): the next attempt's budget would not cover it", grown>>20)
	}
}

// With slow-hash clients of different costs (an argon2id one and a bcrypt
// one), unknown ids are not all checked against the heaviest: then a client
// with a lighter (or, across kinds, heavier) hash would be told apart from
// unknown ids by time. Each unknown id costs what one of the configured
// clients costs, the same one on every attempt.
func TestUnknownClientsCostLikeEachSlowHashClient(t *testing.T) {
	clock := newClock()
	cfg := baseConfig()
	cfg.Now = clock.Now
	cfg.HashLimiter = NewHashLimiter(1<<20, 1)
	cfg.Clients = append(cfg.Clients,
		ClientConfig{ID: "ar", Secrets: []SecretConfig{{Hash: testArgon2id}}},
		ClientConfig{ID: "bc", Secrets: []SecretConfig{{Hash: testBcrypt}}},
	)
	iss, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, iss: iss, clock: clock, ip: netip.MustParseAddr("10.1.2.3")}
	var weight int64 // the budget the last slow hash took: tells its kind
	iss.hashHook = func() {
		iss.limiter.mu.Lock()
		weight = iss.limiter.kib
		iss.limiter.mu.Unlock()
	}
	cost := func(id string) int64 {
		weight = 0
		wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, id, "wrong-"+strconv.Itoa(rand.Int())), 401, errInvalidClient)
		return weight
	}
	argon, bcr := cost("ar"), cost("bc")
	if argon == bcr || argon == 0 || bcr == 0 {
		t.Fatalf("client weights argon2id %d, bcrypt %d: want two distinct slow hashes", argon, bcr)
	}
	seen := map[int64]int{}
	for k := range 32 {
		id := fmt.Sprintf("unknown-%d", k)
		w := cost(id)
		if w != argon && w != bcr {
			t.Fatalf("unknown id %q cost weight %d, like no configured client (%d, %d)", id, w, argon, bcr)
		}
		if again := cost(id); again != w {
			t.Fatalf("unknown id %q cost %d, then %d: an id's cost must not vary", id, w, again)
		}
		seen[w]++
	}
	if seen[argon] == 0 || seen[bcr] == 0 {
		t.Fatalf("32 unknown ids cost %v (argon2id %d, bcrypt %d): every configured cost must occur, or the other client's id stands out", seen, argon, bcr)
	}
}
