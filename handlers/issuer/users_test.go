package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgate/caddy-authgate/store"
)

// cheapHash is an argon2id hash with tiny parameters, for fast tests.
func cheapHash(t testing.TB, password string) string {
	t.Helper()
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, 1, 8, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func userEnv(t testing.TB, mutate func(*Config)) *testEnv {
	t.Helper()
	return newEnv(t, func(c *Config) {
		c.HashLimiter = NewHashLimiter(DefaultHashMemoryKiB, 4)
		c.Users = []UserConfig{
			{Name: "alice", PasswordHash: cheapHash(t, "alice-pw"), Claims: map[string]any{"email": "alice@example.com", "groups": []any{"staff"}}},
			{Name: "carol", PasswordHash: cheapHash(t, "carol-pw"), Disabled: true},
		}
		if mutate != nil {
			mutate(c)
		}
	})
}

var testAddr = netip.MustParseAddr("192.0.2.10")

func TestLookupUser(t *testing.T) {
	e := userEnv(t, nil)
	ctx := context.Background()
	u, err := e.iss.lookupUser(ctx, "alice")
	if err != nil || u.Name != "alice" || u.Claims["email"] != "alice@example.com" || u.Disabled {
		t.Fatalf("alice: %+v %v", u, err)
	}
	u.Claims["email"] = "changed" // a copy
	if u2, _ := e.iss.lookupUser(ctx, "alice"); u2.Claims["email"] != "alice@example.com" {
		t.Fatal("lookupUser returned the directory's own map")
	}
	if u, err := e.iss.lookupUser(ctx, "carol"); err != nil || !u.Disabled {
		t.Fatalf("carol: %+v %v", u, err)
	}
	for _, name := range []string{"nobody", "", strings.Repeat("x", 300), "a\x00b", " alice"} {
		if _, err := e.iss.lookupUser(ctx, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%q: err = %v, want store.ErrNotFound", name, err)
		}
	}
	// Run-time users come from the store.
	if err := e.store.PutUser(ctx, store.UserRecord{Name: "dave", PasswordHash: cheapHash(t, "dave-pw"), Claims: map[string]any{"name": "Dave"}}); err != nil {
		t.Fatal(err)
	}
	if u, err := e.iss.lookupUser(ctx, "dave"); err != nil || u.Claims["name"] != "Dave" {
		t.Fatalf("store user: %+v %v", u, err)
	}
	if _, err := e.iss.authenticateUser(ctx, "dave", "dave-pw", testAddr); err != nil {
		t.Fatalf("store user sign-in: %v", err)
	}
	// A store record with an unusable hash is nobody.
	e.store.PutUser(ctx, store.UserRecord{Name: "eve", PasswordHash: "sha256:00"})
	if _, err := e.iss.lookupUser(ctx, "eve"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unusable record: %v", err)
	}
}

func TestAuthenticateUserSameAnswerSameCost(t *testing.T) {
	e := userEnv(t, nil)
	var hashes atomic.Int32
	e.iss.hashHook = func() { hashes.Add(1) }
	ctx := context.Background()
	if u, err := e.iss.authenticateUser(ctx, "alice", "alice-pw", testAddr); err != nil || u.Name != "alice" {
		t.Fatalf("right password: %+v %v", u, err)
	}
	cases := map[string][2]string{
		"wrong password":           {"alice", "nope"},
		"unknown user":             {"mallory", "nope"},
		"disabled, right password": {"carol", "carol-pw"},
		"oversized name":           {strings.Repeat("a", 5000), "x"},
	}
	for name, c := range cases {
		hashes.Store(0)
		_, err := e.iss.authenticateUser(ctx, c[0], c[1], netip.MustParseAddr("198.51.100.1"))
		if !errors.Is(err, errBadCredentials) {
			t.Errorf("%s: err = %v, want errBadCredentials", name, err)
		}
		if hashes.Load() != 1 {
			t.Errorf("%s: %d slow hashes, want exactly 1 (what a wrong password costs)", name, hashes.Load())
		}
	}
	hashes.Store(0)
	if _, err := e.iss.authenticateUser(ctx, "alice", strings.Repeat("p", maxPasswordBytes+1), testAddr); !errors.Is(err, errBadCredentials) || hashes.Load() != 0 {
		t.Errorf("oversized password: %v, %d hashes", err, hashes.Load())
	}
}

func TestAuthenticateUserBusy(t *testing.T) {
	e := userEnv(t, func(c *Config) { c.HashLimiter = NewHashLimiter(DefaultHashMemoryKiB, 1) })
	e.iss.limiter.tryAcquire(1) // the one slot is taken
	var results []string
	e.iss.onLogin = func(r string) { results = append(results, r) }
	if _, err := e.iss.authenticateUser(context.Background(), "alice", "alice-pw", testAddr); !errors.Is(err, errHashBusy) {
		t.Fatalf("err = %v, want errHashBusy", err)
	}
	if len(results) != 1 || results[0] != LoginBusy {
		t.Fatalf("results = %v", results)
	}
}

func TestLoginThrottle(t *testing.T) {
	e := userEnv(t, nil)
	ctx := context.Background()
	var hashes atomic.Int32
	e.iss.hashHook = func() { hashes.Add(1) }
	var throttled atomic.Int32
	e.iss.onLogin = func(r string) {
		if r == LoginThrottled {
			throttled.Add(1)
		}
	}
	for n := 1; n <= ThrottleFreePerUser; n++ {
		if _, err := e.iss.authenticateUser(ctx, "alice", "wrong", testAddr); !errors.Is(err, errBadCredentials) {
			t.Fatalf("attempt %d: %v", n, err)
		}
	}
	hashes.Store(0)
	// The right password is refused too while the name waits, unhashed.
	_, err := e.iss.authenticateUser(ctx, "alice", "alice-pw", netip.MustParseAddr("203.0.113.9"))
	var te *throttledError
	if !errors.As(err, &te) || te.retryAfter != ThrottleBaseDelay || hashes.Load() != 0 || throttled.Load() != 1 {
		t.Fatalf("6th attempt: %v (hashes %d, throttled %d)", err, hashes.Load(), throttled.Load())
	}
	e.clock.Advance(ThrottleBaseDelay)
	if _, err := e.iss.authenticateUser(ctx, "alice", "wrong", testAddr); !errors.Is(err, errBadCredentials) {
		t.Fatalf("after the delay: %v", err)
	}
	// The next delay doubles.
	if _, err := e.iss.authenticateUser(ctx, "alice", "alice-pw", testAddr); !errors.As(err, &te) || te.retryAfter != 2*ThrottleBaseDelay {
		t.Fatalf("doubled: %v", err)
	}
	// Other names from another address are not affected.
	if _, err := e.iss.authenticateUser(ctx, "mallory", "x", netip.MustParseAddr("203.0.113.10")); !errors.Is(err, errBadCredentials) {
		t.Fatalf("other name: %v", err)
	}
	e.clock.Advance(2 * ThrottleBaseDelay)
	if _, err := e.iss.authenticateUser(ctx, "alice", "alice-pw", testAddr); err != nil {
		t.Fatalf("right password after the delay: %v", err)
	}
	// A success reset the name.
	if _, err := e.iss.authenticateUser(ctx, "alice", "wrong", netip.MustParseAddr("203.0.113.11")); !errors.Is(err, errBadCredentials) {
		t.Fatalf("after success: %v", err)
	}
	// The window ends: counts start over.
	e.clock.Advance(ThrottleWindow)
	if w := e.iss.throttle.wait("alice", testAddr, e.clock.Now()); w != 0 {
		t.Fatalf("after the window: wait %v", w)
	}
}

func TestLoginThrottlePerAddress(t *testing.T) {
	th := newLoginThrottle()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("2001:db8::1")
	for n := 0; n < ThrottleFreePerAddr-1; n++ {
		th.fail(fmt.Sprintf("user%d", n), a, now)
	}
	if w := th.wait("fresh", a, now); w != 0 {
		t.Fatalf("within the free attempts: %v", w)
	}
	th.fail("user-x", a, now)
	// Another address of the same /64 waits too.
	if w := th.wait("fresh", netip.MustParseAddr("2001:db8::2"), now); w != ThrottleBaseDelay {
		t.Fatalf("same /64: wait %v", w)
	}
	if w := th.wait("fresh", netip.MustParseAddr("2001:db8:1::1"), now); w != 0 {
		t.Fatalf("other /64: wait %v", w)
	}
	// Delays are capped.
	for n := 0; n < 100; n++ {
		th.fail("user-y", netip.MustParseAddr("192.0.2.1"), now)
	}
	if w := th.wait("user-y", netip.Addr{}, now); w != ThrottleMaxDelay {
		t.Fatalf("cap: %v", w)
	}
}

func TestUserConfigValidation(t *testing.T) {
	good := cheapHash(t, "x")
	bc, _ := bcrypt.GenerateFromPassword([]byte("x"), 4)
	bad := map[string][]UserConfig{
		"fast hash":      {{Name: "a", PasswordHash: HashSecret("x")}},
		"no hash":        {{Name: "a"}},
		"huge argon2id":  {{Name: "a", PasswordHash: "$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"}},
		"huge bcrypt":    {{Name: "a", PasswordHash: "$2a$15$" + strings.Repeat("a", 53)}},
		"empty name":     {{Name: "", PasswordHash: good}},
		"reserved claim": {{Name: "a", PasswordHash: good, Claims: map[string]any{"sub": "root"}}},
		"twice":          {{Name: "a", PasswordHash: good}, {Name: "a", PasswordHash: good}},
		"control char":   {{Name: "a\nb", PasswordHash: good}},
	}
	for name, users := range bad {
		cfg := baseConfig()
		cfg.Users = users
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := baseConfig()
	cfg.Users = []UserConfig{{Name: "b", PasswordHash: string(bc)}, {Name: "日本語ユーザー", PasswordHash: good}}
	if _, err := New(context.Background(), cfg); err != nil {
		t.Fatalf("bcrypt and a Japanese name: %v", err)
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	e := userEnv(t, func(c *Config) { c.Users = append(c.Users, UserConfig{Name: "hp", PasswordHash: h}) })
	if _, err := e.iss.authenticateUser(context.Background(), "hp", "correct horse", testAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := HashPassword(""); err == nil {
		t.Fatal("empty password hashed")
	}
}

func TestUsersFileReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf(`[{"name":"frank","password_hash":%q,"claims":{"email":"f@example.com"}}]`, cheapHash(t, "frank-pw")))
	logs := &strings.Builder{}
	e := userEnv(t, func(c *Config) { c.UsersFile = path })
	e.iss.users.watch.logger = newTextLogger(logs)
	ctx := context.Background()
	if _, err := e.iss.authenticateUser(ctx, "frank", "frank-pw", testAddr); err != nil {
		t.Fatalf("file user: %v", err)
	}
	if e.iss.users.watch.poll() {
		t.Fatal("unchanged file reloaded")
	}
	// A bad file keeps the previous users, and is logged once.
	for _, bad := range []string{`[{"name":"frank"`, `[{"name":"frank","password_hash":"plain"}]`, `[{"name":"x","pasword_hash":"typo"}]`, `{}`} {
		write(bad)
		if e.iss.users.watch.poll() || e.iss.users.watch.poll() {
			t.Fatalf("%s: loaded", bad)
		}
		if _, err := e.iss.lookupUser(ctx, "frank"); err != nil {
			t.Fatalf("%s: the previous users are gone: %v", bad, err)
		}
	}
	if n := strings.Count(logs.String(), "users file not reloaded"); n != 4 {
		t.Fatalf("%d error logs, want 4:\n%s", n, logs)
	}
	e.iss.users.watch.poll()
	if n := strings.Count(logs.String(), "users file not reloaded"); n != 4 {
		t.Fatalf("the same bad content was reported again")
	}
	write(fmt.Sprintf(`[{"name":"gina","password_hash":%q,"disabled":true,"created_at":"2030-01-01T00:00:00Z"}]`, cheapHash(t, "g")))
	if e.iss.users.watch.poll() {
		t.Fatal("a changed file loaded at its first sight (it may be half-written)")
	}
	if !e.iss.users.watch.poll() {
		t.Fatal("changed file not reloaded")
	}
	if _, err := e.iss.lookupUser(ctx, "frank"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("frank after reload: %v", err)
	}
	if u, err := e.iss.lookupUser(ctx, "gina"); err != nil || !u.Disabled {
		t.Fatalf("gina: %+v %v", u, err)
	}
	// A file caught half-written is neither loaded nor reported.
	before := strings.Count(logs.String(), "users file not reloaded")
	full := fmt.Sprintf(`[{"name":"hana","password_hash":%q}]`, cheapHash(t, "h"))
	write(full[:len(full)/2])
	e.iss.users.watch.poll()
	write(full)
	if e.iss.users.watch.poll() || !e.iss.users.watch.poll() {
		t.Fatal("the completed file was not loaded on its second sight")
	}
	if strings.Count(logs.String(), "users file not reloaded") != before {
		t.Fatal("a half-written file was reported")
	}
	if _, err := e.iss.lookupUser(ctx, "hana"); err != nil {
		t.Fatal(err)
	}
	// The config's users win over the file's and stay.
	if _, err := e.iss.lookupUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if e.iss.users.watch.poll() || e.iss.users.watch.poll() {
		t.Fatal("missing file loaded")
	}
	if _, err := e.iss.lookupUser(ctx, "hana"); err != nil {
		t.Fatalf("a missing file dropped the users: %v", err)
	}
	// At start, a bad file is a config error.
	write(`nope`)
	cfg := baseConfig()
	cfg.UsersFile = path
	if _, err := New(ctx, cfg); err == nil {
		t.Fatal("bad users file accepted at start")
	}
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func storeUser(t testing.TB, name, password string, disabled bool) store.UserRecord {
	return store.UserRecord{Name: name, PasswordHash: cheapHash(t, password), Disabled: disabled}
}
