package issuer

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
	"github.com/authgate/caddy-authgate/token"
)

// sharedStore is a memory engine that acts like a networked one: its
// health and its change notifications are the test's to set.
type sharedStore struct {
	*memory.Store
	mu    sync.Mutex
	down  time.Time
	grace time.Duration
	fn    func(store.Change)
}

func (s *sharedStore) DownSince() time.Time       { s.mu.Lock(); defer s.mu.Unlock(); return s.down }
func (s *sharedStore) OutageGrace() time.Duration { return s.grace }
func (s *sharedStore) setDown(t time.Time)        { s.mu.Lock(); s.down = t; s.mu.Unlock() }
func (s *sharedStore) SubscribeChanges(_ context.Context, fn func(store.Change)) {
	s.mu.Lock()
	s.fn = fn
	s.mu.Unlock()
}
func (s *sharedStore) publish(c store.Change) {
	s.mu.Lock()
	fn := s.fn
	s.mu.Unlock()
	fn(c)
}

func newShared(t testing.TB) (*testEnv, *sharedStore) {
	clock := newClock()
	st := &sharedStore{Store: openStore(t, clock), grace: time.Hour}
	e := newEnvOn(t, nil, clock, func(c *Config) { c.Store = st })
	return e, st
}

// TestSharedStoreDown: while the shared store is down the token endpoint
// answers 503 temporarily_unavailable at once; admission keeps working for
// the store's grace, then fails closed with ReasonKeysUnavailable; both
// recover when it is back.
func TestSharedStoreDown(t *testing.T) {
	e, st := newShared(t)
	e.token("app", "app-secret", nil)
	claims := &token.Claims{Issuer: testIss, JTI: "j1", ClientID: "app", Scopes: []string{"read"}}

	st.setDown(time.Now())
	r := e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "app", "app-secret")
	if r.status != 503 || r.body["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") == "" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token endpoint with the store down: %d %v %s", r.status, r.header, r.raw)
	}
	if err := e.iss.Admit(claims, e.ip); err != nil {
		t.Fatalf("admission within the grace: %v", err)
	}
	st.setDown(time.Now().Add(-2 * time.Hour)) // down for longer than the grace
	var te *token.Error
	if err := e.iss.Admit(claims, e.ip); !errors.As(err, &te) || te.Reason != token.ReasonKeysUnavailable {
		t.Fatalf("admission past the grace: %v, want ReasonKeysUnavailable", err)
	}

	st.setDown(time.Time{})
	if err := e.iss.Admit(claims, e.ip); err != nil {
		t.Fatalf("admission after recovery: %v", err)
	}
	e.token("app", "app-secret", nil)
}

// TestFollowChanges: a change notification reloads at once what another
// instance changed in the store (no 30 s revocation poll, no 1 s client
// poll): revocations, clients, this issuer's not-before records; ChangeAll
// reloads everything.
func TestFollowChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, st := newShared(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.iss.followChanges(ctx)
		now := e.clock.Now()
		until := now.Add(time.Hour)

		// Another instance revokes: the store has it, this issuer not yet.
		if err := st.Revoke(ctx, "j-elsewhere", until); err != nil {
			t.Fatal(err)
		}
		if e.iss.revoked.has("j-elsewhere", now.Unix()) {
			t.Fatal("revocation known before any reload")
		}
		st.publish(store.Change{Kind: store.ChangeRevocations})
		synctest.Wait()
		if !e.iss.revoked.has("j-elsewhere", now.Unix()) {
			t.Fatal("revocation not loaded after its notification")
		}

		if err := st.PutClient(ctx, store.Client{ID: "runtime", Scopes: []string{"read"},
			SecretHashes: []store.SecretHash{{Hash: "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}}}); err != nil {
			t.Fatal(err)
		}
		st.publish(store.Change{Kind: store.ChangeClients, Key: "runtime"})
		synctest.Wait()
		if e.iss.clients.load().byID["runtime"] == nil {
			t.Fatal("client not loaded after its notification")
		}

		// "Revoke everything of bob" on another instance: a not-before of
		// another issuer is ignored, this issuer's is loaded.
		iat := now.Add(-time.Minute).Unix()
		nb := store.NotBefore{Kind: store.NotBeforeUser, ID: "bob", At: now, Until: until}
		other, mine := nb, nb
		other.Issuer, mine.Issuer = "https://other.example", testIss
		if err := st.SetNotBefore(ctx, other); err != nil {
			t.Fatal(err)
		}
		st.publish(store.Change{Kind: store.ChangeNotBefore, Key: other.Issuer})
		synctest.Wait()
		if err := st.SetNotBefore(ctx, mine); err != nil {
			t.Fatal(err)
		}
		if e.iss.notBefore.refuses("app", "bob", iat, false) {
			t.Fatal("not-before known before any reload")
		}
		st.publish(store.Change{Kind: store.ChangeNotBefore, Key: testIss})
		synctest.Wait()
		if !e.iss.notBefore.refuses("app", "bob", iat, false) {
			t.Fatal("not-before not loaded after its notification")
		}

		// A resubscription (messages may have been lost) reloads all.
		_ = st.Revoke(ctx, "j-lost", until)
		_ = st.DeleteClient(ctx, "runtime")
		_ = st.SetNotBefore(ctx, store.NotBefore{Issuer: testIss, Kind: store.NotBeforeClient, ID: "app", At: now, Until: until})
		st.publish(store.Change{Kind: store.ChangeAll})
		synctest.Wait()
		if !e.iss.revoked.has("j-lost", now.Unix()) || e.iss.clients.load().byID["runtime"] != nil ||
			!e.iss.notBefore.refuses("app", "app", iat, false) {
			t.Fatal("ChangeAll did not reload revocations, clients and not-befores")
		}
		cancel()
		synctest.Wait()
	})
}
