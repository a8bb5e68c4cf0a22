package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
)

// FuzzEncryptedOpen: whatever a tampered store holds as session data, the
// wrapper never panics and returns data only for a record it sealed itself
// (or one without the encryption prefix, as written before a KEK). Run
// with -fuzz: workers are separate processes, so the seed's nonce differs
// from theirs; what they share is the key and the one plaintext sealed.
func FuzzEncryptedOpen(f *testing.F) {
	kr, err := store.NewKeyring(bytes.Repeat([]byte{7}, store.KEKSize))
	if err != nil {
		f.Fatal(err)
	}
	inner := memory.New(memory.Options{})
	e := store.Encrypted(inner, kr)
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	if err := e.PutSession(ctx, store.Session{Kind: "k", ID: "x", Data: []byte("hello"), ExpiresAt: until}); err != nil {
		f.Fatal(err)
	}
	sealedRec, _ := inner.GetSession(ctx, "k", "x")
	sealed := bytes.Clone(sealedRec.Data)
	f.Add(bytes.Clone(sealed))
	f.Add([]byte("agkek1"))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		if err := inner.PutSession(ctx, store.Session{Kind: "k", ID: "x", Data: data, ExpiresAt: until}); err != nil {
			return
		}
		s, err := e.GetSession(ctx, "k", "x")
		if err != nil {
			return
		}
		if bytes.HasPrefix(data, []byte("agkek1")) {
			// Only "hello" was ever sealed under this key for this
			// record (in any fuzz process): anything else is a forgery.
			if string(s.Data) != "hello" {
				t.Fatalf("forged ciphertext %x decrypted to %q", data, s.Data)
			}
			return
		}
		if !bytes.Equal(s.Data, data) {
			t.Fatalf("plain record changed: %q -> %q", data, s.Data)
		}
	})
}
