package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

var sessionCases = map[string]func(*testing.T, *env){
	"RoundTripAndKinds": func(t *testing.T, e *env) {
		s := store.Session{Kind: "sso", ID: "s1", Subject: "alice", Data: []byte("payload"), ExpiresAt: T0.Add(time.Hour)}
		if err := e.PutSession(e.ctx, s); err != nil {
			t.Fatal(err)
		}
		s.Data[0] = 'X' // the caller's slice is not the engine's
		got, err := e.GetSession(e.ctx, "sso", "s1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != "sso" || got.ID != "s1" || got.Subject != "alice" || string(got.Data) != "payload" || !got.ExpiresAt.Equal(T0.Add(time.Hour)) {
			t.Fatalf("round trip: %+v", got)
		}
		// The same id under another kind is another record.
		if _, err := e.GetSession(e.ctx, "gateway", "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other kind: err = %v, want ErrNotFound", err)
		}
		s.Data = []byte("v2")
		if err := e.PutSession(e.ctx, s); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.GetSession(e.ctx, "sso", "s1"); string(got.Data) != "v2" {
			t.Fatalf("replace: %q", got.Data)
		}
		if err := e.DeleteSession(e.ctx, "sso", "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetSession(e.ctx, "sso", "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: err = %v", err)
		}
		if err := e.DeleteSession(e.ctx, "sso", "s1"); err != nil {
			t.Fatalf("deleting a missing session: %v", err)
		}
	},
	"Expiry": func(t *testing.T, e *env) {
		s := store.Session{Kind: "sso", ID: "s", ExpiresAt: T0.Add(time.Minute)}
		if err := e.PutSession(e.ctx, s); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(s.ExpiresAt.Add(-time.Nanosecond))
		if _, err := e.GetSession(e.ctx, "sso", "s"); err != nil {
			t.Fatalf("just before expiry: %v", err)
		}
		e.clock.Set(s.ExpiresAt)
		if _, err := e.GetSession(e.ctx, "sso", "s"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("at expiry: err = %v, want ErrNotFound", err)
		}
		e.clock.Add(24 * time.Hour)
		if err := e.PutSession(e.ctx, store.Session{Kind: "sso", ID: "other", ExpiresAt: e.clock.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetSession(e.ctx, "sso", "s"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("long after expiry: err = %v", err)
		}
	},
	"Invalid": func(t *testing.T, e *env) {
		until := T0.Add(time.Hour)
		bad := map[string]store.Session{
			"no kind":      {ID: "s", ExpiresAt: until},
			"NUL in kind":  {Kind: "a\x00b", ID: "s", ExpiresAt: until},
			"no id":        {Kind: "k", ExpiresAt: until},
			"no expiry":    {Kind: "k", ID: "s"},
			"oversized id": {Kind: "k", ID: strings.Repeat("i", store.MaxKeySize), ExpiresAt: until},
			"oversized":    {Kind: "k", ID: "s", Data: make([]byte, store.DefaultMaxRecordSize), ExpiresAt: until},
		}
		for name, s := range bad {
			if err := e.PutSession(e.ctx, s); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if _, err := e.GetSession(e.ctx, "", "s"); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("get without kind: err = %v, want a validation error", err)
		}
	},
}
