package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

const testIssuer = "https://issuer.test"

func ids(keys []store.SigningKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

func setKeys(t *testing.T, e *env, issuer string, keys ...store.SigningKey) []store.SigningKey {
	t.Helper()
	got, err := e.UpdateSigningKeys(e.ctx, issuer, func([]store.SigningKey) ([]store.SigningKey, error) { return keys, nil })
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var signingKeyCases = map[string]func(*testing.T, *env){
	"RoundTripAndOrder": func(t *testing.T, e *env) {
		keys, err := e.SigningKeys(e.ctx, testIssuer)
		if err != nil || len(keys) != 0 {
			t.Fatalf("empty store: keys=%v err=%v", keys, err)
		}
		k1 := store.SigningKey{ID: "b", Alg: "ES256", Private: []byte{1, 2, 3}, CreatedAt: T0, ActiveAt: T0.Add(time.Hour)}
		k2 := store.SigningKey{ID: "a", Alg: "HS256", Private: bytes.Repeat([]byte{9}, 32), CreatedAt: T0, ActiveAt: T0, RetiredAt: T0.Add(2 * time.Hour), ExpiresAt: T0.Add(3 * time.Hour)}
		k3 := store.SigningKey{ID: "c", Alg: "EdDSA", Private: []byte{4}, CreatedAt: T0.Add(-time.Hour)}
		got, err := e.UpdateSigningKeys(e.ctx, testIssuer, func(cur []store.SigningKey) ([]store.SigningKey, error) {
			if len(cur) != 0 {
				t.Errorf("current = %v, want empty", cur)
			}
			return []store.SigningKey{k1, k2, k3}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		wantOrder := []string{"c", "a", "b"} // CreatedAt, then ID
		check := func(label string, keys []store.SigningKey) {
			t.Helper()
			if fmt.Sprint(ids(keys)) != fmt.Sprint(wantOrder) {
				t.Fatalf("%s: order %v, want %v", label, ids(keys), wantOrder)
			}
			if !bytes.Equal(keys[1].Private, k2.Private) || keys[1].Alg != "HS256" || keys[1].Issuer != testIssuer ||
				!keys[1].RetiredAt.Equal(k2.RetiredAt) || !keys[1].ExpiresAt.Equal(k2.ExpiresAt) ||
				!keys[2].ActiveAt.Equal(k1.ActiveAt) || !keys[0].RetiredAt.IsZero() {
				t.Fatalf("%s: fields not preserved: %+v", label, keys)
			}
		}
		check("returned", got)
		stored, err := e.SigningKeys(e.ctx, testIssuer)
		if err != nil {
			t.Fatal(err)
		}
		check("stored", stored)
		// What callers get back is theirs: changing it changes nothing stored.
		stored[0].Private[0] = 0xff
		stored[1].ID = "changed"
		again, _ := e.SigningKeys(e.ctx, testIssuer)
		check("after the caller changed its copy", again)
	},
	"UpdateRemovesAndAborts": func(t *testing.T, e *env) {
		setKeys(t, e, testIssuer,
			store.SigningKey{ID: "a", Alg: "ES256", Private: []byte{1}, CreatedAt: T0},
			store.SigningKey{ID: "b", Alg: "ES256", Private: []byte{2}, CreatedAt: T0.Add(time.Second)},
			store.SigningKey{ID: "c", Alg: "ES256", Private: []byte{3}, CreatedAt: T0.Add(2 * time.Second)})
		// Dropping a key from the result deletes it.
		got, err := e.UpdateSigningKeys(e.ctx, testIssuer, func(cur []store.SigningKey) ([]store.SigningKey, error) {
			return cur[1:], nil
		})
		if err != nil || fmt.Sprint(ids(got)) != "[b c]" {
			t.Fatalf("after removal: %v %v", ids(got), err)
		}
		// An error aborts everything.
		boom := errors.New("boom")
		if _, err := e.UpdateSigningKeys(e.ctx, testIssuer, func([]store.SigningKey) ([]store.SigningKey, error) {
			return nil, boom
		}); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		// Invalid results abort too.
		for name, bad := range map[string][]store.SigningKey{
			"empty id":  {{ID: "", Alg: "ES256", Private: []byte{1}}},
			"duplicate": {{ID: "x", Alg: "ES256", Private: []byte{1}}, {ID: "x", Alg: "ES256", Private: []byte{1}}},
			"no alg":    {{ID: "x", Private: []byte{1}}},
			"no key":    {{ID: "x", Alg: "ES256"}},
			"huge":      {{ID: "x", Alg: "ES256", Private: make([]byte, store.DefaultMaxRecordSize)}},
			"long id":   {{ID: string(make([]byte, store.MaxKeySize+1)), Alg: "ES256", Private: []byte{1}}},
		} {
			if _, err := e.UpdateSigningKeys(e.ctx, testIssuer, func([]store.SigningKey) ([]store.SigningKey, error) { return bad, nil }); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if stored, _ := e.SigningKeys(e.ctx, testIssuer); fmt.Sprint(ids(stored)) != "[b c]" {
			t.Fatalf("aborted updates changed keys: %v", ids(stored))
		}
		if _, err := e.UpdateSigningKeys(e.ctx, testIssuer, nil); err == nil {
			t.Error("nil fn accepted")
		}
		if _, err := e.UpdateSigningKeys(e.ctx, "", func(c []store.SigningKey) ([]store.SigningKey, error) { return c, nil }); err == nil {
			t.Error("empty issuer accepted")
		}
		// Returning nothing deletes every key.
		if got := setKeys(t, e, testIssuer); len(got) != 0 {
			t.Fatalf("after clearing: %v", ids(got))
		}
		if stored, _ := e.SigningKeys(e.ctx, testIssuer); len(stored) != 0 {
			t.Fatalf("stored after clearing: %v", ids(stored))
		}
	},
	"ScopedByIssuer": func(t *testing.T, e *env) {
		key := func(id, alg string) store.SigningKey {
			return store.SigningKey{ID: id, Alg: alg, Private: []byte("k-" + id), CreatedAt: time.Unix(1, 0)}
		}
		for iss, k := range map[string]store.SigningKey{"https://a.test": key("a1", "ES256"), "https://b.test": key("b1", "HS256")} {
			if _, err := e.UpdateSigningKeys(e.ctx, iss, func(cur []store.SigningKey) ([]store.SigningKey, error) {
				if len(cur) != 0 {
					t.Errorf("%s sees another issuer's keys: %+v", iss, cur)
				}
				return []store.SigningKey{k}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		// Replacing a's keys leaves b's alone.
		setKeys(t, e, "https://a.test", key("a2", "ES256"))
		a, _ := e.SigningKeys(e.ctx, "https://a.test")
		b, _ := e.SigningKeys(e.ctx, "https://b.test")
		if len(a) != 1 || a[0].ID != "a2" || a[0].Issuer != "https://a.test" {
			t.Fatalf("issuer a keys = %+v", a)
		}
		if len(b) != 1 || b[0].ID != "b1" || b[0].Alg != "HS256" || b[0].Issuer != "https://b.test" {
			t.Fatalf("issuer b keys = %+v", b)
		}
		// An issuer that is a prefix of another sees only its own keys.
		if keys, _ := e.SigningKeys(e.ctx, "https://a.tes"); len(keys) != 0 {
			t.Fatalf("prefix issuer sees %+v", keys)
		}
	},
	"ConcurrentFirstKey": func(t *testing.T, e *env) {
		const n = 50
		var generated atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := e.UpdateSigningKeys(e.ctx, testIssuer, func(cur []store.SigningKey) ([]store.SigningKey, error) {
					if len(cur) > 0 {
						return cur, nil
					}
					generated.Add(1)
					return []store.SigningKey{{ID: fmt.Sprintf("k%d", i), Alg: "ES256", Private: []byte{byte(i)}, CreatedAt: T0}}, nil
				})
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		keys, err := e.SigningKeys(e.ctx, testIssuer)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || generated.Load() != 1 {
			t.Fatalf("got %d keys, %d generated; want exactly one", len(keys), generated.Load())
		}
	},
}
