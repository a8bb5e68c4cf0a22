package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func openTest(t *testing.T, opts BoltOptions) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "dir", "authgate.db")
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

func TestSigningKeysRoundTrip(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t, BoltOptions{})

	keys, err := b.SigningKeys(ctx, testIssuer)
	if err != nil || len(keys) != 0 {
		t.Fatalf("empty store: keys=%v err=%v", keys, err)
	}
	k1 := SigningKey{ID: "b", Alg: "ES256", Private: []byte{1, 2, 3}, CreatedAt: t0, ActiveAt: t0.Add(time.Hour)}
	k2 := SigningKey{ID: "a", Alg: "HS256", Private: bytes.Repeat([]byte{9}, 32), CreatedAt: t0, ActiveAt: t0, RetiredAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(3 * time.Hour)}
	k3 := SigningKey{ID: "c", Alg: "EdDSA", Private: []byte{4}, CreatedAt: t0.Add(-time.Hour)}
	got, err := b.UpdateSigningKeys(ctx, testIssuer, func(cur []SigningKey) ([]SigningKey, error) {
		if len(cur) != 0 {
			t.Errorf("current = %v, want empty", cur)
		}
		return []SigningKey{k1, k2, k3}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{"c", "a", "b"} // CreatedAt, then ID
	check := func(label string, keys []SigningKey) {
		t.Helper()
		if len(keys) != 3 {
			t.Fatalf("%s: %d keys, want 3", label, len(keys))
		}
		for i, id := range wantOrder {
			if keys[i].ID != id {
				t.Fatalf("%s: order %v, want %v", label, ids(keys), wantOrder)
			}
		}
		if !bytes.Equal(keys[1].Private, k2.Private) || keys[1].Alg != "HS256" ||
			!keys[1].RetiredAt.Equal(k2.RetiredAt) || !keys[1].ExpiresAt.Equal(k2.ExpiresAt) ||
			!keys[2].ActiveAt.Equal(k1.ActiveAt) {
			t.Fatalf("%s: fields not preserved: %+v", label, keys)
		}
	}
	check("returned", got)
	stored, err := b.SigningKeys(ctx, testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	check("stored", stored)

	// Dropping a key from the result deletes it; an error aborts everything.
	got, err = b.UpdateSigningKeys(ctx, testIssuer, func(cur []SigningKey) ([]SigningKey, error) {
		return cur[1:], nil
	})
	if err != nil || len(got) != 2 || got[0].ID != "a" {
		t.Fatalf("after removal: %v %v", ids(got), err)
	}
	boom := errors.New("boom")
	_, err = b.UpdateSigningKeys(ctx, testIssuer, func(cur []SigningKey) ([]SigningKey, error) {
		return nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if stored, _ := b.SigningKeys(ctx, testIssuer); len(stored) != 2 {
		t.Fatalf("aborted update changed keys: %v", ids(stored))
	}
	// Invalid results abort too.
	for name, bad := range map[string][]SigningKey{
		"empty id":  {{ID: "", Alg: "ES256", Private: []byte{1}}},
		"duplicate": {{ID: "x", Alg: "ES256", Private: []byte{1}}, {ID: "x", Alg: "ES256", Private: []byte{1}}},
		"no alg":    {{ID: "x", Private: []byte{1}}},
		"no key":    {{ID: "x", Alg: "ES256"}},
		"huge":      {{ID: "x", Alg: "ES256", Private: make([]byte, DefaultMaxRecordSize)}},
	} {
		if _, err := b.UpdateSigningKeys(ctx, testIssuer, func([]SigningKey) ([]SigningKey, error) { return bad, nil }); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if stored, _ := b.SigningKeys(ctx, testIssuer); len(stored) != 2 {
		t.Fatalf("invalid update changed keys: %v", ids(stored))
	}
	if _, err := b.UpdateSigningKeys(ctx, testIssuer, nil); err == nil {
		t.Error("nil fn accepted")
	}
}

func ids(keys []SigningKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

func TestUpdateSigningKeysConcurrentFirstKey(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t, BoltOptions{})
	var generated atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.UpdateSigningKeys(ctx, testIssuer, func(cur []SigningKey) ([]SigningKey, error) {
				if len(cur) > 0 {
					return cur, nil
				}
				generated.Add(1)
				return []SigningKey{{ID: fmt.Sprintf("k%d", i), Alg: "ES256", Private: []byte{byte(i)}, CreatedAt: time.Now()}}, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	keys, err := b.SigningKeys(ctx, testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || generated.Load() != 1 {
		t.Fatalf("got %d keys, %d generated; want exactly one", len(keys), generated.Load())
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: t0}
	b, _ := openTest(t, BoltOptions{Now: clock.Now})

	rec := TokenRecord{
		Hash: hashOf("tok1"), JTI: "j1", ClientID: "c1", Subject: "s1",
		Scopes: []string{"a", "b"}, Audience: []string{"api"},
		IssuedAt: t0, ExpiresAt: t0.Add(time.Minute),
	}
	if err := b.PutToken(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetToken(ctx, rec.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Hash, rec.Hash) || got.JTI != "j1" || got.ClientID != "c1" || got.Subject != "s1" ||
		strings.Join(got.Scopes, " ") != "a b" || strings.Join(got.Audience, " ") != "api" ||
		!got.IssuedAt.Equal(rec.IssuedAt) || !got.ExpiresAt.Equal(rec.ExpiresAt) {
		t.Fatalf("round trip: got %+v, want %+v", got, rec)
	}
	if _, err := b.GetToken(ctx, hashOf("other")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing token: err = %v", err)
	}

	// Expiry: valid until just before ExpiresAt, not found from then on.
	clock.Set(rec.ExpiresAt.Add(-time.Nanosecond))
	if _, err := b.GetToken(ctx, rec.Hash); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	clock.Set(rec.ExpiresAt)
	if _, err := b.GetToken(ctx, rec.Hash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("at expiry: err = %v, want ErrNotFound", err)
	}
	clock.Set(t0)

	if err := b.DeleteToken(ctx, rec.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetToken(ctx, rec.Hash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: err = %v", err)
	}
	if err := b.DeleteToken(ctx, rec.Hash); err != nil {
		t.Fatalf("deleting a missing token: %v", err)
	}

	// Validation.
	if err := b.PutToken(ctx, TokenRecord{ExpiresAt: t0}); err == nil {
		t.Error("empty hash accepted")
	}
	if err := b.PutToken(ctx, TokenRecord{Hash: hashOf("x")}); err == nil {
		t.Error("zero expiry accepted")
	}
	if err := b.PutToken(ctx, TokenRecord{Hash: make([]byte, MaxKeySize+1), ExpiresAt: t0}); err == nil {
		t.Error("oversized hash accepted")
	}
	if err := b.PutToken(ctx, TokenRecord{Hash: hashOf("x"), ExpiresAt: t0, Scopes: []string{strings.Repeat("s", DefaultMaxRecordSize)}}); err == nil {
		t.Error("oversized record accepted")
	}
	if _, err := b.GetToken(ctx, nil); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("empty hash on get: err = %v", err)
	}
	if err := b.DeleteToken(ctx, nil); err == nil {
		t.Error("empty hash on delete accepted")
	}
}

func TestRevocations(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: t0}
	b, _ := openTest(t, BoltOptions{Now: clock.Now})

	if revs, err := b.Revocations(ctx); err != nil || len(revs) != 0 {
		t.Fatalf("empty: %v %v", revs, err)
	}
	if err := b.Revoke(ctx, "j1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.Revoke(ctx, "j2", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Revoking again with an earlier `until` keeps the later one.
	if err := b.Revoke(ctx, "j1", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	revs, err := b.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].JTI != "j1" || !revs[0].Until.Equal(t0.Add(time.Hour)) ||
		revs[1].JTI != "j2" || !revs[1].Until.Equal(t0.Add(time.Minute)) {
		t.Fatalf("revocations = %+v", revs)
	}
	// Extending works.
	if err := b.Revoke(ctx, "j2", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(90 * time.Minute))
	revs, err = b.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 1 || revs[0].JTI != "j2" {
		t.Fatalf("after j1 expired: %+v", revs)
	}
	if err := b.Revoke(ctx, "", t0); err == nil {
		t.Error("empty jti accepted")
	}
	if err := b.Revoke(ctx, "j3", time.Time{}); err == nil {
		t.Error("zero until accepted")
	}
}

func TestMarkUsed(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: t0}
	b, _ := openTest(t, BoltOptions{Now: clock.Now})

	first, err := b.MarkUsed(ctx, "m1", t0.Add(time.Minute))
	if err != nil || !first {
		t.Fatalf("first use: first=%v err=%v", first, err)
	}
	first, err = b.MarkUsed(ctx, "m1", t0.Add(time.Hour))
	if err != nil || first {
		t.Fatalf("replay: first=%v err=%v", first, err)
	}
	// The replay did not extend the marker: it expires at t0+1m.
	clock.Set(t0.Add(time.Minute))
	first, err = b.MarkUsed(ctx, "m1", t0.Add(2*time.Minute))
	if err != nil || !first {
		t.Fatalf("after expiry: first=%v err=%v", first, err)
	}
	clock.Set(t0.Add(time.Minute + time.Second))
	first, err = b.MarkUsed(ctx, "m1", t0.Add(3*time.Minute))
	if err != nil || first {
		t.Fatalf("replay of overwritten marker: first=%v err=%v", first, err)
	}
	if _, err := b.MarkUsed(ctx, "", t0); err == nil {
		t.Error("empty key accepted")
	}
	if _, err := b.MarkUsed(ctx, "m2", time.Time{}); err == nil {
		t.Error("zero until accepted")
	}
	if _, err := b.MarkUsed(ctx, strings.Repeat("k", MaxKeySize+1), t0.Add(time.Hour)); err == nil {
		t.Error("oversized key accepted")
	}
}

func TestMarkUsedConcurrent(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t, BoltOptions{})
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := b.MarkUsed(ctx, "assertion-1", time.Now().Add(time.Hour))
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Fatalf("%d callers saw a first use, want 1", firsts.Load())
	}
}

func TestClients(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t, BoltOptions{})

	if cs, err := b.Clients(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("empty: %v %v", cs, err)
	}
	c := Client{
		ID: "svc-b", Name: "Service B",
		SecretHashes: []SecretHash{{Hash: "sha256:abcd", Expires: t0}, {Hash: "$argon2id$x"}},
		Scopes:       []string{"read"}, Audience: []string{"api"}, GrantTypes: []string{"client_credentials"},
		Disabled: true,
	}
	if err := b.PutClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := b.PutClient(ctx, Client{ID: "svc-a"}); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetClient(ctx, "svc-b")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.Name != c.Name || len(got.SecretHashes) != 2 ||
		got.SecretHashes[0].Hash != "sha256:abcd" || !got.SecretHashes[0].Expires.Equal(t0) ||
		!got.SecretHashes[1].Expires.IsZero() || got.Scopes[0] != "read" || got.Audience[0] != "api" ||
		got.GrantTypes[0] != "client_credentials" || !got.Disabled {
		t.Fatalf("round trip: %+v", got)
	}
	cs, err := b.Clients(ctx)
	if err != nil || len(cs) != 2 || cs[0].ID != "svc-a" || cs[1].ID != "svc-b" {
		t.Fatalf("clients = %+v, %v", cs, err)
	}
	// Replace.
	c.Name = "renamed"
	if err := b.PutClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.GetClient(ctx, "svc-b"); got.Name != "renamed" {
		t.Fatalf("replace: %+v", got)
	}
	if err := b.DeleteClient(ctx, "svc-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetClient(ctx, "svc-b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := b.DeleteClient(ctx, "svc-b"); err != nil {
		t.Fatalf("deleting a missing client: %v", err)
	}
	// Validation: empty id, hostile sizes.
	if err := b.PutClient(ctx, Client{}); err == nil {
		t.Error("empty id accepted")
	}
	if _, err := b.GetClient(ctx, ""); err == nil {
		t.Error("empty id on get accepted")
	}
	if err := b.PutClient(ctx, Client{ID: "big", Scopes: make([]string, 30000)}); err == nil {
		t.Error("oversized client accepted")
	}
	if _, err := b.GetClient(ctx, "big"); !errors.Is(err, ErrNotFound) {
		t.Errorf("oversized client was stored: %v", err)
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

func TestCanceledContext(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.PutClient(ctx, Client{ID: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("PutClient: %v", err)
	}
	if _, err := b.Clients(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Clients: %v", err)
	}
	if _, err := b.Purge(ctx, t0); !errors.Is(err, context.Canceled) {
		t.Errorf("Purge: %v", err)
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: t0}
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
	for name, want := range map[string]int{"tokens": 1, "revocations": 2, "markers": 1, "signing_keys": 2, "clients": 1} {
		if got := b.count(t, name); got != want {
			t.Errorf("bucket %s holds %d records, want %d", name, got, want)
		}
	}
	keys, _ := b.SigningKeys(ctx, testIssuer)
	if len(keys) != 2 || keys[0].ID != "retiring" || keys[1].ID != "current" {
		t.Errorf("keys after purge: %v", ids(keys))
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

func TestStartPurger(t *testing.T) {
	clock := &fakeClock{t: t0}
	b, _ := openTest(t, BoltOptions{Now: clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.PutToken(ctx, TokenRecord{Hash: hashOf("a"), ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(2 * time.Minute))
	results := make(chan int, 100)
	b.StartPurger(ctx, 5*time.Millisecond, func(n int, err error) {
		if err != nil {
			t.Error(err)
		}
		select {
		case results <- n:
		default:
		}
	})
	deadline := time.After(10 * time.Second)
	total, runs := 0, 0
	for runs < 3 {
		select {
		case n := <-results:
			total += n
			runs++
		case <-deadline:
			t.Fatalf("purger ran %d times", runs)
		}
	}
	if total != 1 {
		t.Fatalf("purger removed %d records, want 1", total)
	}
	// Close stops the purger (and waits for it); a purger started after
	// Close never runs.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b.StartPurger(ctx, time.Millisecond, func(int, error) { t.Error("purger ran after Close") })
	time.Sleep(20 * time.Millisecond)
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
	if revs, err := b2.Revocations(ctx); err != nil || len(revs) != 1 || revs[0].JTI != "r" {
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

func TestSigningKeysAreScopedByIssuer(t *testing.T) {
	b, _ := openTest(t, BoltOptions{})
	ctx := context.Background()
	key := func(id, alg string) SigningKey {
		return SigningKey{ID: id, Alg: alg, Private: []byte("k-" + id), CreatedAt: time.Unix(1, 0)}
	}
	for iss, k := range map[string]SigningKey{"https://a.test": key("a1", "ES256"), "https://b.test": key("b1", "HS256")} {
		if _, err := b.UpdateSigningKeys(ctx, iss, func(cur []SigningKey) ([]SigningKey, error) {
			if len(cur) != 0 {
				t.Fatalf("%s sees another issuer's keys: %+v", iss, cur)
			}
			return []SigningKey{k}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing a's keys leaves b's alone.
	if _, err := b.UpdateSigningKeys(ctx, "https://a.test", func([]SigningKey) ([]SigningKey, error) {
		return []SigningKey{key("a2", "ES256")}, nil
	}); err != nil {
		t.Fatal(err)
	}
	a, _ := b.SigningKeys(ctx, "https://a.test")
	bk, _ := b.SigningKeys(ctx, "https://b.test")
	if len(a) != 1 || a[0].ID != "a2" || a[0].Issuer != "https://a.test" {
		t.Fatalf("issuer a keys = %+v", a)
	}
	if len(bk) != 1 || bk[0].ID != "b1" || bk[0].Alg != "HS256" {
		t.Fatalf("issuer b keys = %+v", bk)
	}
	// An issuer that is a prefix of another sees only its own keys.
	if keys, _ := b.SigningKeys(ctx, "https://a.tes"); len(keys) != 0 {
		t.Fatalf("prefix issuer sees %+v", keys)
	}
}

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
