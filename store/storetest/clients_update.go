package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/caddy-authgate/store"
)

func init() {
	for name, fn := range clientUpdateCases {
		clientCases[name] = fn
	}
}

var clientUpdateCases = map[string]func(*testing.T, *env){
	"UpdateCreatesEditsDeletes": func(t *testing.T, e *env) {
		got, err := e.UpdateClient(e.ctx, "u1", func(cur *store.Client) (*store.Client, error) {
			if cur != nil {
				return nil, fmt.Errorf("a new client has a current record: %+v", cur)
			}
			return &store.Client{ID: "u1", Issuer: testIssuer, Name: "one", AccessTokenTTL: 60,
				SecretHashes: []store.SecretHash{{ID: "s1", Hash: "sha256:00", Current: true, CreatedAt: T0, Description: "first"}}}, nil
		})
		if err != nil || got == nil || got.Name != "one" || got.Issuer != testIssuer || got.AccessTokenTTL != 60 {
			t.Fatalf("create: %+v %v", got, err)
		}
		got, err = e.UpdateClient(e.ctx, "u1", func(cur *store.Client) (*store.Client, error) {
			if cur == nil || cur.SecretHashes[0].ID != "s1" || !cur.SecretHashes[0].Current ||
				!cur.SecretHashes[0].CreatedAt.Equal(T0) || cur.SecretHashes[0].Description != "first" {
				return nil, fmt.Errorf("current record: %+v", cur)
			}
			cur.Name = "edited"
			cur.Disabled = true
			return cur, nil
		})
		if err != nil || got.Name != "edited" || !got.Disabled {
			t.Fatalf("edit: %+v %v", got, err)
		}
		if c, _ := e.GetClient(e.ctx, "u1"); c.Name != "edited" {
			t.Fatalf("edit not stored: %+v", c)
		}
		// An error aborts: nothing is written.
		boom := errors.New("boom")
		if _, err := e.UpdateClient(e.ctx, "u1", func(cur *store.Client) (*store.Client, error) {
			cur.Name = "lost"
			return cur, boom
		}); !errors.Is(err, boom) {
			t.Fatalf("aborted update: %v", err)
		}
		if c, _ := e.GetClient(e.ctx, "u1"); c.Name != "edited" {
			t.Fatalf("aborted update was written: %+v", c)
		}
		// Another id is refused.
		if _, err := e.UpdateClient(e.ctx, "u1", func(cur *store.Client) (*store.Client, error) {
			cur.ID = "u2"
			return cur, nil
		}); err == nil {
			t.Fatal("an update that changes the id was accepted")
		}
		// nil deletes; deleting a missing client is a no-op.
		if got, err := e.UpdateClient(e.ctx, "u1", func(*store.Client) (*store.Client, error) { return nil, nil }); err != nil || got != nil {
			t.Fatalf("delete: %+v %v", got, err)
		}
		if _, err := e.GetClient(e.ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if _, err := e.UpdateClient(e.ctx, "u1", func(*store.Client) (*store.Client, error) { return nil, nil }); err != nil {
			t.Fatalf("deleting a missing client: %v", err)
		}
		if _, err := e.UpdateClient(e.ctx, "", func(c *store.Client) (*store.Client, error) { return c, nil }); err == nil {
			t.Fatal("empty id accepted")
		}
		if _, err := e.UpdateClient(e.ctx, "u1", nil); err == nil {
			t.Fatal("nil function accepted")
		}
	},
	"UpdateIsAtomic": func(t *testing.T, e *env) {
		// Concurrent read-modify-writes of one record lose nothing: each
		// appends one secret.
		if err := e.PutClient(e.ctx, store.Client{ID: "atomic"}); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.UpdateClient(e.ctx, "atomic", func(cur *store.Client) (*store.Client, error) {
					cur.SecretHashes = append(cur.SecretHashes, store.SecretHash{ID: fmt.Sprint(i), Hash: "sha256:00"})
					return cur, nil
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
		c, err := e.GetClient(e.ctx, "atomic")
		if err != nil || len(c.SecretHashes) != n {
			t.Fatalf("after %d concurrent updates: %d secrets, %v", n, len(c.SecretHashes), err)
		}
	},
	"Version": func(t *testing.T, e *env) {
		v0, err := e.ClientsVersion(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		step := func(what string, fn func() error, wantChange bool) {
			t.Helper()
			before, _ := e.ClientsVersion(e.ctx)
			if err := fn(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			after, err := e.ClientsVersion(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if (after != before) != wantChange {
				t.Fatalf("%s: version %d -> %d, want change %v", what, before, after, wantChange)
			}
		}
		step("put", func() error { return e.PutClient(e.ctx, store.Client{ID: "v"}) }, true)
		step("get", func() error { _, err := e.GetClient(e.ctx, "v"); return err }, false)
		step("list", func() error { _, err := e.Clients(e.ctx); return err }, false)
		step("update", func() error {
			_, err := e.UpdateClient(e.ctx, "v", func(c *store.Client) (*store.Client, error) { c.Name = "x"; return c, nil })
			return err
		}, true)
		step("aborted update", func() error {
			_, err := e.UpdateClient(e.ctx, "v", func(c *store.Client) (*store.Client, error) { return nil, errors.New("no") })
			if err == nil {
				return errors.New("abort ignored")
			}
			return nil
		}, false)
		step("delete", func() error { return e.DeleteClient(e.ctx, "v") }, true)
		step("delete missing", func() error { return e.DeleteClient(e.ctx, "v") }, false)
		step("update-create", func() error {
			_, err := e.UpdateClient(e.ctx, "w", func(*store.Client) (*store.Client, error) { return &store.Client{ID: "w"}, nil })
			return err
		}, true)
		step("update-delete", func() error {
			_, err := e.UpdateClient(e.ctx, "w", func(*store.Client) (*store.Client, error) { return nil, nil })
			return err
		}, true)
		if v, _ := e.ClientsVersion(e.ctx); v == v0 {
			t.Fatal("version never moved")
		}
	},
	"UpdateOversizedRefused": func(t *testing.T, e *env) {
		if err := e.PutClient(e.ctx, store.Client{ID: "big", Name: "small"}); err != nil {
			t.Fatal(err)
		}
		v, _ := e.ClientsVersion(e.ctx)
		_, err := e.UpdateClient(e.ctx, "big", func(c *store.Client) (*store.Client, error) {
			c.Name = strings.Repeat("n", store.DefaultMaxRecordSize)
			return c, nil
		})
		if err == nil {
			t.Fatal("an oversized update was stored")
		}
		if c, _ := e.GetClient(e.ctx, "big"); c.Name != "small" {
			t.Fatalf("after a refused update: %q", c.Name[:min(len(c.Name), 10)])
		}
		if v2, _ := e.ClientsVersion(e.ctx); v2 != v {
			t.Fatalf("a refused update moved the version %d -> %d", v, v2)
		}
	},
	"NewFieldsRoundTrip": func(t *testing.T, e *env) {
		c := store.Client{
			ID: "full", Issuer: testIssuer, Name: "Full", AuthMethods: []string{"client_secret_post"},
			GrantTypes: []string{"client_credentials"}, RedirectURIs: []string{"https://app/cb"},
			PostLogoutRedirectURIs: []string{"https://app/bye"}, Public: true, SkipConsent: true,
			Scopes: []string{"a"}, AccessTokenTTL: 2147483647, RefreshTokenTTL: 1, TokenFormat: "opaque",
			AllowIP: []string{"10.0.0.0/8"}, DenyIP: []string{"10.1.0.0-10.1.0.9"}, JWKSURI: "https://app/jwks",
			CreatedAt: T0, UpdatedAt: T0,
			SecretHashes: []store.SecretHash{{ID: "k", Hash: "sha256:00", Description: "kept", CreatedAt: T0, Expires: T0}},
		}
		if err := e.PutClient(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := e.GetClient(e.ctx, "full")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
		}
	},
}
