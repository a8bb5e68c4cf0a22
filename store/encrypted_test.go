package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
	"github.com/authgate/caddy-authgate/store/storetest"
)

func newKEK(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, store.KEKSize)
	_, _ = rand.Read(k)
	return k
}

func keyring(t *testing.T, current []byte, previous ...[]byte) *store.Keyring {
	t.Helper()
	kr, err := store.NewKeyring(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestEncryptedConformance: the encrypting wrapper is an engine like any
// other, over bbolt and over memory.
func TestEncryptedConformance(t *testing.T) {
	kr := keyring(t, newKEK(t))
	t.Run("bolt", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Engine {
			b, err := store.OpenBolt(filepath.Join(t.TempDir(), "authgate.db"), store.BoltOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			return store.Encrypted(b, kr)
		})
	})
	t.Run("memory", func(t *testing.T) {
		storetest.Run(t, func(_ *testing.T, now func() time.Time) store.Engine {
			return store.Encrypted(memory.New(memory.Options{Now: now}), kr)
		})
	})
}

var (
	secretKey     = []byte("-----PRIVATE KEY MATERIAL 0123456789-----")
	secretSession = []byte(`{"user":"alice","tokens":"very secret"}`)
)

func fill(t *testing.T, e store.Engine) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.UpdateSigningKeys(ctx, "https://iss", func([]store.SigningKey) ([]store.SigningKey, error) {
		return []store.SigningKey{{ID: "k1", Alg: "ES256", Private: bytes.Clone(secretKey), CreatedAt: time.Unix(1, 0)}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.PutSession(ctx, store.Session{Kind: "sso", ID: "s1", Data: bytes.Clone(secretSession), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, e store.Engine) error {
	t.Helper()
	ctx := context.Background()
	keys, err := e.SigningKeys(ctx, "https://iss")
	if err != nil {
		return err
	}
	if len(keys) != 1 || !bytes.Equal(keys[0].Private, secretKey) {
		t.Fatalf("keys = %+v", keys)
	}
	s, err := e.GetSession(ctx, "sso", "s1")
	if err != nil {
		return err
	}
	if !bytes.Equal(s.Data, secretSession) {
		t.Fatalf("session data = %q", s.Data)
	}
	return nil
}

// TestEncryptedAtRest: what the inner engine holds is ciphertext, in the
// bbolt file too.
func TestEncryptedAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authgate.db")
	b, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := store.Encrypted(b, keyring(t, newKEK(t)))
	fill(t, e)
	if err := check(t, e); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	raw, _ := b.SigningKeys(ctx, "https://iss")
	if bytes.Contains(raw[0].Private, secretKey[:20]) {
		t.Fatal("private key stored in the clear")
	}
	rs, _ := b.GetSession(ctx, "sso", "s1")
	if bytes.Contains(rs.Data, []byte("very secret")) {
		t.Fatal("session stored in the clear")
	}
	_ = e.Close()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, secretKey[:20]) || bytes.Contains(file, []byte("very secret")) ||
		strings.Contains(string(file), base64.StdEncoding.EncodeToString(secretKey)[:20]) {
		t.Fatal("the bbolt file holds a secret in the clear")
	}
}

// TestKEKRotation: records written under the old KEK are read with it as a
// previous key, and rewritten under the new one; without the old key they
// do not decrypt; without any key, encrypted records are refused, never
// served as plaintext.
func TestKEKRotation(t *testing.T) {
	old, cur := newKEK(t), newKEK(t)
	inner := memory.New(memory.Options{})
	fill(t, store.Encrypted(inner, keyring(t, old)))

	if err := check(t, store.Encrypted(inner, keyring(t, cur, old))); err != nil {
		t.Fatalf("with the old key as previous: %v", err)
	}
	if err := check(t, store.Encrypted(inner, keyring(t, cur))); !errors.Is(err, store.ErrNoKEK) {
		t.Fatalf("without the old key: %v, want ErrNoKEK", err)
	}
	if err := check(t, store.Encrypted(inner, nil)); !errors.Is(err, store.ErrNoKEK) {
		t.Fatalf("without any key: %v, want ErrNoKEK", err)
	}
	// Rewriting under the new key (the next key update / session write)
	// retires the old one.
	rotated := store.Encrypted(inner, keyring(t, cur, old))
	if _, err := rotated.UpdateSigningKeys(context.Background(), "https://iss", func(c []store.SigningKey) ([]store.SigningKey, error) { return c, nil }); err != nil {
		t.Fatal(err)
	}
	s, _ := rotated.GetSession(context.Background(), "sso", "s1")
	if err := rotated.PutSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := check(t, store.Encrypted(inner, keyring(t, cur))); err != nil {
		t.Fatalf("after rewriting, the new key alone: %v", err)
	}
}

// TestEncryptedTampering: a ciphertext moved to another record, or
// altered, does not decrypt; records written before encryption was
// turned on are read as they are.
func TestEncryptedTampering(t *testing.T) {
	kr := keyring(t, newKEK(t))
	inner := memory.New(memory.Options{})
	e := store.Encrypted(inner, kr)
	ctx := context.Background()
	// A plaintext record from before the KEK was configured.
	if err := inner.PutSession(ctx, store.Session{Kind: "sso", ID: "legacy", Data: []byte("plain"), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if s, err := e.GetSession(ctx, "sso", "legacy"); err != nil || string(s.Data) != "plain" {
		t.Fatalf("legacy record: %q %v", s.Data, err)
	}
	fill(t, e)
	sealed, _ := inner.GetSession(ctx, "sso", "s1")
	// Moved to another id.
	moved := sealed
	moved.ID = "s2"
	_ = inner.PutSession(ctx, moved)
	if _, err := e.GetSession(ctx, "sso", "s2"); err == nil {
		t.Fatal("a ciphertext moved to another session decrypted")
	}
	// Flipped bit.
	flipped := sealed
	flipped.Data = bytes.Clone(sealed.Data)
	flipped.Data[len(flipped.Data)-1] ^= 1
	_ = inner.PutSession(ctx, flipped)
	if _, err := e.GetSession(ctx, "sso", "s1"); err == nil {
		t.Fatal("a tampered ciphertext decrypted")
	}
	// Truncated.
	flipped.Data = flipped.Data[:10]
	_ = inner.PutSession(ctx, flipped)
	if _, err := e.GetSession(ctx, "sso", "s1"); err == nil {
		t.Fatal("a truncated ciphertext decrypted")
	}
}

func TestParseKEK(t *testing.T) {
	k := newKEK(t)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k),
		"  " + base64.StdEncoding.EncodeToString(k) + "\n", hex.EncodeToString(k),
	} {
		got, err := store.ParseKEK(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKEK(%q) = %x, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(k[:16]), strings.Repeat("z", 64), "passphrase with spaces"} {
		if _, err := store.ParseKEK(bad); err == nil {
			t.Errorf("ParseKEK(%q) accepted", bad)
		}
	}
	if _, err := store.NewKeyring(k[:31]); err == nil {
		t.Error("a 31-byte KEK accepted")
	}
}
