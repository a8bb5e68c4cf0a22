package issuer

import (
	"context"
	"slices"
	"testing"

	"github.com/authgate/caddy-authgate/store/memory"
)

// TestIssuersSharingAStoreKeepTheirOwnKeys: every issuer of a Caddy uses
// the one store file; each must sign with, and publish, only its own keys.
func TestIssuersSharingAStoreKeepTheirOwnKeys(t *testing.T) {
	st := memory.New(memory.Options{})
	defer st.Close()
	ctx := context.Background()
	a, err := New(ctx, Config{Issuer: "https://a.test", SigningAlg: "ES256", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(ctx, Config{Issuer: "https://b.test", SigningAlg: "EdDSA", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	// A restart of a must find its own key again, not b's.
	a2, err := New(ctx, Config{Issuer: "https://a.test", SigningAlg: "ES256", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if a.SigningKeyID() == b.SigningKeyID() {
		t.Fatal("two issuers sign with the same key")
	}
	if a2.SigningKeyID() != a.SigningKeyID() {
		t.Fatalf("restarted issuer signs with %s, want its stored key %s", a2.SigningKeyID(), a.SigningKeyID())
	}
	for _, kid := range b.PublishedKeyIDs() {
		if slices.Contains(a.PublishedKeyIDs(), kid) {
			t.Fatalf("issuer a publishes b's key %s", kid)
		}
	}
	if keys, _ := b.ResolveKeys(ctx, a.SigningKeyID(), "ES256"); len(keys) != 0 {
		t.Fatal("issuer b resolves issuer a's key")
	}
}
