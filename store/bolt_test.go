package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func openTest(t *testing.T, opts BoltOptions) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "dir", "authgate.db")
	if opts.PurgeEvery == 0 {
		opts.PurgeEvery = -1 // tests call Purge themselves
	}
	b, err := OpenBolt(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, path
}

func hashOf(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func TestOpenBoltCreatesDirsAndModes(t *testing.T) {
	_, path := openTest(t, BoltOptions{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("file mode = %o, want 600", m)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if m := di.Mode().Perm(); m != 0o700 {
		t.Errorf("dir mode = %o, want 700", m)
	}
}

func TestOpenBoltRejectsNewerSchema(t *testing.T) {
	b, path := openTest(t, BoltOptions{})
	if err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaSchemaVersion, []byte(strconv.Itoa(SchemaVersion+1)))
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b2, err := OpenBolt(path, BoltOptions{}); err == nil {
		b2.Close()
		t.Fatal("opened a file with a newer schema version")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestMaxRecordSizeOption(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t, BoltOptions{MaxRecordSize: 100})
	if err := b.PutClient(ctx, Client{ID: "x", Name: strings.Repeat("n", 100)}); err == nil {
		t.Fatal("record over MaxRecordSize accepted")
	}
	if err := b.PutClient(ctx, Client{ID: "x", Name: "ok"}); err != nil {
		t.Fatal(err)
	}
}

func TestPurgeCanceledContext(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Purge(ctx, t0); !errors.Is(err, context.Canceled) {
		t.Errorf("Purge: %v", err)
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock(t0)
	b, _ := openTest(t, BoltOptions{Now: clock.Now})
	past, future := t0.Add(-time.Minute), t0.Add(time.Hour)

	for i, exp := range []time.Time{past, past, t0, future} { // t0 counts as expired
		if err := b.PutToken(ctx, TokenRecord{Hash: hashOf(strconv.Itoa(i)), ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	for i, until := range []time.Time{past, future, future} {
		if err := b.Revoke(ctx, "jti"+strconv.Itoa(i), until); err != nil {
			t.Fatal(err)
		}
	}
	for i, until := range []time.Time{past, past, future} {
		if _, err := b.MarkUsed(ctx, "m"+strconv.Itoa(i), until); err != nil {
			t.Fatal(err)
		}
	}
	_, err := b.UpdateSigningKeys(ctx, testIssuer, func([]SigningKey) ([]SigningKey, error) {
		return []SigningKey{
			{ID: "expired", Alg: "ES256", Private: []byte{1}, CreatedAt: past, ExpiresAt: past},
			{ID: "retiring", Alg: "ES256", Private: []byte{1}, CreatedAt: past, RetiredAt: past, ExpiresAt: future},
			{ID: "current", Alg: "ES256", Private: []byte{1}, CreatedAt: t0}, // no ExpiresAt: kept
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PutClient(ctx, Client{ID: "client"}); err != nil {
		t.Fatal(err)
	}

	n, err := b.Purge(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 + 1 + 2 + 1; n != want {
		t.Fatalf("purged %d, want %d", n, want)
	}
	// Direct counts in the buckets: the purged records are really gone.
	for name, want := range map[string]int{"tokens": 1, "revocations": 2, "revocation_log": 2, "markers": 1, "signing_keys": 2, "clients": 1} {
		if got := b.count(t, name); got != want {
			t.Errorf("bucket %s holds %d records, want %d", name, got, want)
		}
	}
	keys, _ := b.SigningKeys(ctx, testIssuer)
	if len(keys) != 2 || keys[0].ID != "retiring" || keys[1].ID != "current" {
		t.Errorf("keys after purge: %+v", keys)
	}
	if n, err := b.Purge(ctx, t0); n != 0 || err != nil {
		t.Fatalf("second purge: %d %v", n, err)
	}
	if n, err := b.Purge(ctx, future.Add(time.Second)); n != 1+2+1+1 || err != nil {
		t.Fatalf("purge in the future: %d %v", n, err)
	}
}

func (b *Bolt) count(t *testing.T, bucket string) int {
	t.Helper()
	n := 0
	if err := b.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(bucket)).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPurgerRunsFromOpenToClose: the engine purges on its own, first right
// after open and then every PurgeEvery, logs what it removed, and Close
// stops it (synctest fails the test if a goroutine outlives the bubble).
func TestPurgerRunsFromOpenToClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "purger.db")
	synctest.Test(t, func(t *testing.T) {
		var logs lockedBuffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		b, err := OpenBolt(path, BoltOptions{PurgeEvery: time.Hour, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		now := time.Now() // the bubble's fake clock
		for name, exp := range map[string]time.Time{"soon": now.Add(time.Minute), "later": now.Add(3 * time.Hour)} {
			if err := b.PutToken(ctx, TokenRecord{Hash: hashOf(name), ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if got := b.count(t, "tokens"); got != 2 {
			t.Fatalf("%d tokens before the first tick, want 2", got)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := b.count(t, "tokens"); got != 1 {
			t.Fatalf("%d tokens after the first tick, want 1", got)
		}
		if !strings.Contains(logs.String(), "purged expired records") || !strings.Contains(logs.String(), "count=1") {
			t.Errorf("purge not logged: %q", logs.String())
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMigratesSchema1: a file of schema version 1 (no revocation feed)
// gets every revocation into the feed on open.
func TestMigratesSchema1(t *testing.T) {
	b, path := openTest(t, BoltOptions{})
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if err := b.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketRevocationLog); err != nil {
			return err
		}
		for _, jti := range []string{"b", "a"} {
			if err := tx.Bucket(bucketRevocations).Put([]byte(jti), []byte(`{"jti":"`+jti+`","until":"`+until.Format(time.RFC3339)+`"}`)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchemaVersion, []byte("1"))
	}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b2, err := OpenBolt(path, BoltOptions{PurgeEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	revs, cursor, err := b2.RevocationsSince(context.Background(), "")
	if err != nil || len(revs) != 2 || revs[0].JTI != "a" || revs[1].JTI != "b" || !revs[0].Until.Equal(until) {
		t.Fatalf("after migration: %+v %v", revs, err)
	}
	if err := b2.Revoke(context.Background(), "c", until); err != nil {
		t.Fatal(err)
	}
	if revs, _, _ := b2.RevocationsSince(context.Background(), cursor); len(revs) != 1 || revs[0].JTI != "c" {
		t.Fatalf("feed after migration: %+v", revs)
	}
	if err := b2.db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(metaSchemaVersion)); v != strconv.Itoa(SchemaVersion) {
			t.Errorf("schema version %s after migration", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	b, path := openTest(t, BoltOptions{})
	future := time.Now().Add(time.Hour)
	if err := b.PutToken(ctx, TokenRecord{Hash: hashOf("t"), JTI: "j", ExpiresAt: future}); err != nil {
		t.Fatal(err)
	}
	if err := b.Revoke(ctx, "r", future); err != nil {
		t.Fatal(err)
	}
	if _, err := b.MarkUsed(ctx, "m", future); err != nil {
		t.Fatal(err)
	}
	if err := b.PutClient(ctx, Client{ID: "c", Name: "n"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateSigningKeys(ctx, testIssuer, func([]SigningKey) ([]SigningKey, error) {
		return []SigningKey{{ID: "k", Alg: "EdDSA", Private: []byte("secret"), CreatedAt: time.Now()}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	b2, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if rec, err := b2.GetToken(ctx, hashOf("t")); err != nil || rec.JTI != "j" {
		t.Errorf("token: %+v %v", rec, err)
	}
	if revs, _, err := b2.RevocationsSince(ctx, ""); err != nil || len(revs) != 1 || revs[0].JTI != "r" {
		t.Errorf("revocations: %+v %v", revs, err)
	}
	if first, err := b2.MarkUsed(ctx, "m", future); err != nil || first {
		t.Errorf("marker forgotten: first=%v err=%v", first, err)
	}
	if c, err := b2.GetClient(ctx, "c"); err != nil || c.Name != "n" {
		t.Errorf("client: %+v %v", c, err)
	}
	if keys, err := b2.SigningKeys(ctx, testIssuer); err != nil || len(keys) != 1 || string(keys[0].Private) != "secret" {
		t.Errorf("signing keys: %+v %v", keys, err)
	}
}

func TestSecondOpenFailsWithLockError(t *testing.T) {
	_, path := openTest(t, BoltOptions{})
	start := time.Now()
	b2, err := OpenBolt(path, BoltOptions{LockTimeout: 100 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		b2.Close()
		t.Fatal("second open of a locked file succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "is locked by another process") ||
		!strings.Contains(err.Error(), path) {
		t.Fatalf("unexpected error: %v", err)
	}
	if elapsed > 5*time.Second {
		t.Fatalf("lock wait took %s, far beyond the 100ms timeout", elapsed)
	}
}

const helperEnv = "AUTHGATE_STORE_HELPER_DB"

// TestHelperProcess is not a real test: TestCrashKeepsCommittedWrites runs
// the test binary again with helperEnv set, and this function then commits
// records and exits without closing the database, as a crash would.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv(helperEnv + "_N"))
	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	ctx := context.Background()
	for i := range n {
		rec := TokenRecord{Hash: hashOf(strconv.Itoa(i)), JTI: strconv.Itoa(i), ExpiresAt: time.Now().Add(time.Hour)}
		if err := b.PutToken(ctx, rec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
	fmt.Println("committed", n)
	os.Exit(1) // no Close: the file lock and mmap die with the process
}

func TestCrashKeepsCommittedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a subprocess")
	}
	const n = 200
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path, helperEnv+"_N="+strconv.Itoa(n))
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("helper: err=%v output:\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("committed %d", n)) {
		t.Fatalf("helper did not commit: %s", out)
	}

	b, err := OpenBolt(path, BoltOptions{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	for i := range n {
		rec, err := b.GetToken(ctx, hashOf(strconv.Itoa(i)))
		if err != nil || rec.JTI != strconv.Itoa(i) {
			t.Fatalf("record %d after crash: %+v %v", i, rec, err)
		}
	}
	if got := b.count(t, "tokens"); got != n {
		t.Fatalf("%d records after crash, want %d", got, n)
	}
}

const testIssuer = "https://issuer.test"

func TestOpenRestrictsAnExistingFileTo0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wide.db")
	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("mode = %o, want 600", perm)
	}
}
