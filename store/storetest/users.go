package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

var userCases = map[string]func(*testing.T, *env){
	"CRUD": func(t *testing.T, e *env) {
		if us, err := e.Users(e.ctx); err != nil || len(us) != 0 {
			t.Fatalf("empty: %v %v", us, err)
		}
		u := store.UserRecord{
			Name: "bob", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
			Claims:   map[string]any{"email": "bob@example.com", "groups": []any{"staff", "admins"}},
			Disabled: true, CreatedAt: T0, UpdatedAt: T0.Add(time.Minute),
		}
		if err := e.PutUser(e.ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := e.PutUser(e.ctx, store.UserRecord{Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		got, err := e.GetUser(e.ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		groups, _ := got.Claims["groups"].([]any)
		if got.Name != "bob" || got.PasswordHash != u.PasswordHash || got.Claims["email"] != "bob@example.com" ||
			len(groups) != 2 || groups[1] != "admins" || !got.Disabled ||
			!got.CreatedAt.Equal(T0) || !got.UpdatedAt.Equal(T0.Add(time.Minute)) {
			t.Fatalf("round trip: %+v", got)
		}
		us, err := e.Users(e.ctx)
		if err != nil || len(us) != 2 || us[0].Name != "alice" || us[1].Name != "bob" {
			t.Fatalf("users = %+v, %v", us, err)
		}
		u.Disabled = false
		if err := e.PutUser(e.ctx, u); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.GetUser(e.ctx, "bob"); got.Disabled {
			t.Fatalf("replace: %+v", got)
		}
		if err := e.DeleteUser(e.ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetUser(e.ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if err := e.DeleteUser(e.ctx, "bob"); err != nil {
			t.Fatalf("deleting a missing user: %v", err)
		}
		if us, _ := e.Users(e.ctx); len(us) != 1 || us[0].Name != "alice" {
			t.Fatalf("after delete: %+v", us)
		}
	},
	"NotFound": func(t *testing.T, e *env) {
		if _, err := e.GetUser(e.ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown user: err = %v, want ErrNotFound", err)
		}
	},
	"Validation": func(t *testing.T, e *env) {
		if err := e.PutUser(e.ctx, store.UserRecord{}); err == nil {
			t.Error("empty name accepted")
		}
		if err := e.PutUser(e.ctx, store.UserRecord{Name: strings.Repeat("n", store.MaxKeySize+1)}); err == nil {
			t.Error("oversized name accepted")
		}
		big := store.UserRecord{Name: "big", Claims: map[string]any{"x": strings.Repeat("x", store.DefaultMaxRecordSize)}}
		if err := e.PutUser(e.ctx, big); err == nil {
			t.Error("oversized record accepted")
		}
		if _, err := e.GetUser(e.ctx, ""); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("empty name on get: err = %v, want a validation error", err)
		}
		if err := e.DeleteUser(e.ctx, ""); err == nil {
			t.Error("empty name on delete accepted")
		}
	},
}
