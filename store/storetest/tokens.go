package storetest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

var tokenCases = map[string]func(*testing.T, *env){
	"RoundTrip": func(t *testing.T, e *env) {
		rec := store.TokenRecord{
			Hash: hashOf("tok1"), JTI: "j1", ClientID: "c1", Subject: "s1",
			Scopes: []string{"a", "b"}, Audience: []string{"api"},
			IssuedAt: T0, ExpiresAt: T0.Add(time.Minute),
		}
		if err := e.PutToken(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
		rec.Scopes[0] = "changed by the caller"
		got, err := e.GetToken(e.ctx, rec.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Hash, rec.Hash) || got.JTI != "j1" || got.ClientID != "c1" || got.Subject != "s1" ||
			strings.Join(got.Scopes, " ") != "a b" || strings.Join(got.Audience, " ") != "api" ||
			!got.IssuedAt.Equal(rec.IssuedAt) || !got.ExpiresAt.Equal(rec.ExpiresAt) {
			t.Fatalf("round trip: got %+v", got)
		}
		if _, err := e.GetToken(e.ctx, hashOf("other")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing token: err = %v", err)
		}
		// Putting the same hash again replaces the record.
		rec.JTI = "j2"
		if err := e.PutToken(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.GetToken(e.ctx, rec.Hash); got.JTI != "j2" {
			t.Fatalf("replace: %+v", got)
		}
	},
	"Expiry": func(t *testing.T, e *env) {
		rec := store.TokenRecord{Hash: hashOf("t"), JTI: "j", ExpiresAt: T0.Add(time.Minute)}
		if err := e.PutToken(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
		// Valid until just before ExpiresAt, not found from then on.
		e.clock.Set(rec.ExpiresAt.Add(-time.Nanosecond))
		if _, err := e.GetToken(e.ctx, rec.Hash); err != nil {
			t.Fatalf("just before expiry: %v", err)
		}
		e.clock.Set(rec.ExpiresAt)
		if _, err := e.GetToken(e.ctx, rec.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("at expiry: err = %v, want ErrNotFound", err)
		}
		// Writes much later (which may reclaim expired records) keep it gone.
		e.clock.Add(24 * time.Hour)
		if err := e.PutToken(e.ctx, store.TokenRecord{Hash: hashOf("u"), ExpiresAt: e.clock.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetToken(e.ctx, rec.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("long after expiry: err = %v", err)
		}
		if _, err := e.GetToken(e.ctx, hashOf("u")); err != nil {
			t.Fatalf("live token after a sweep: %v", err)
		}
	},
	"Delete": func(t *testing.T, e *env) {
		rec := store.TokenRecord{Hash: hashOf("t"), ExpiresAt: T0.Add(time.Hour)}
		if err := e.PutToken(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := e.DeleteToken(e.ctx, rec.Hash); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetToken(e.ctx, rec.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: err = %v", err)
		}
		if err := e.DeleteToken(e.ctx, rec.Hash); err != nil {
			t.Fatalf("deleting a missing token: %v", err)
		}
	},
	"Validation": func(t *testing.T, e *env) {
		if err := e.PutToken(e.ctx, store.TokenRecord{ExpiresAt: T0}); err == nil {
			t.Error("empty hash accepted")
		}
		if err := e.PutToken(e.ctx, store.TokenRecord{Hash: hashOf("x")}); err == nil {
			t.Error("zero expiry accepted")
		}
		if _, err := e.GetToken(e.ctx, nil); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("empty hash on get: err = %v", err)
		}
		if err := e.DeleteToken(e.ctx, nil); err == nil {
			t.Error("empty hash on delete accepted")
		}
	},
}
