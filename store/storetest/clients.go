package storetest

import (
	"errors"
	"testing"

	"github.com/authgate/caddy-authgate/store"
)

var clientCases = map[string]func(*testing.T, *env){
	"CRUD": func(t *testing.T, e *env) {
		if cs, err := e.Clients(e.ctx); err != nil || len(cs) != 0 {
			t.Fatalf("empty: %v %v", cs, err)
		}
		c := store.Client{
			ID: "svc-b", Name: "Service B",
			SecretHashes: []store.SecretHash{{Hash: "sha256:abcd", Expires: T0}, {Hash: "$argon2id$x"}},
			Scopes:       []string{"read"}, Audience: []string{"api"}, GrantTypes: []string{"client_credentials"},
			Disabled: true,
		}
		if err := e.PutClient(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := e.PutClient(e.ctx, store.Client{ID: "svc-a"}); err != nil {
			t.Fatal(err)
		}
		got, err := e.GetClient(e.ctx, "svc-b")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != c.ID || got.Name != c.Name || len(got.SecretHashes) != 2 ||
			got.SecretHashes[0].Hash != "sha256:abcd" || !got.SecretHashes[0].Expires.Equal(T0) ||
			!got.SecretHashes[1].Expires.IsZero() || got.Scopes[0] != "read" || got.Audience[0] != "api" ||
			got.GrantTypes[0] != "client_credentials" || !got.Disabled {
			t.Fatalf("round trip: %+v", got)
		}
		cs, err := e.Clients(e.ctx)
		if err != nil || len(cs) != 2 || cs[0].ID != "svc-a" || cs[1].ID != "svc-b" {
			t.Fatalf("clients = %+v, %v", cs, err)
		}
		// Replace.
		c.Name = "renamed"
		if err := e.PutClient(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.GetClient(e.ctx, "svc-b"); got.Name != "renamed" {
			t.Fatalf("replace: %+v", got)
		}
		if err := e.DeleteClient(e.ctx, "svc-b"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetClient(e.ctx, "svc-b"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if err := e.DeleteClient(e.ctx, "svc-b"); err != nil {
			t.Fatalf("deleting a missing client: %v", err)
		}
		if cs, _ := e.Clients(e.ctx); len(cs) != 1 || cs[0].ID != "svc-a" {
			t.Fatalf("after delete: %+v", cs)
		}
	},
	"Validation": func(t *testing.T, e *env) {
		if err := e.PutClient(e.ctx, store.Client{}); err == nil {
			t.Error("empty id accepted")
		}
		if _, err := e.GetClient(e.ctx, ""); err == nil {
			t.Error("empty id on get accepted")
		}
		if err := e.DeleteClient(e.ctx, ""); err == nil {
			t.Error("empty id on delete accepted")
		}
	},
}
