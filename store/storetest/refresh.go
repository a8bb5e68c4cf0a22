package storetest

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

func testFamily(id, accessJTI string) store.RefreshFamily {
	return store.RefreshFamily{
		ID: id, ClientID: "web", Subject: "alice",
		Access:    []store.FamilyAccess{{JTI: accessJTI, RevokeUntil: T0.Add(2 * time.Hour)}},
		ExpiresAt: T0.Add(48 * time.Hour),
	}
}

func testRefresh(name, family, accessJTI string) store.RefreshRecord {
	return store.RefreshRecord{
		Hash: hashOf(name), FamilyID: family, ClientID: "web", Subject: "alice",
		Scopes: []string{"openid", "read"}, Audience: []string{"api"}, AuthTime: T0, SessionID: "sid",
		IssuedAt: T0, ExpiresAt: T0.Add(24 * time.Hour), FamilyEndsAt: T0.Add(48 * time.Hour),
		AccessJTI: accessJTI, AccessRevokeUntil: T0.Add(2 * time.Hour), JKT: "thumb-" + name, X5TS256: "x5t-" + name,
	}
}

// successor returns a next func that issues the token `name` with access
// token jti.
func successor(name, jti string) func(store.RefreshRecord) (store.RefreshRecord, error) {
	return func(old store.RefreshRecord) (store.RefreshRecord, error) {
		n := old
		n.Hash, n.AccessJTI, n.FamilyID = hashOf(name), jti, "forged-family"
		return n, nil
	}
}

func startFamily(t *testing.T, e *env, id, access, first string) {
	t.Helper()
	rec := testRefresh(first, id, access)
	if err := e.StartFamily(e.ctx, testFamily(id, access), &rec); err != nil {
		t.Fatal(err)
	}
}

func revokedJTIs(t *testing.T, e *env) []string {
	t.Helper()
	revs, _ := since(t, e, "")
	var out []string
	for _, r := range revs {
		out = append(out, r.JTI)
	}
	slices.Sort(out)
	return out
}

var refreshCases = map[string]func(*testing.T, *env){
	"RotateOnce": func(t *testing.T, e *env) {
		startFamily(t, e, "f1", "at1", "r1")
		got, err := e.GetRefresh(e.ctx, hashOf("r1"))
		if err != nil || got.Spent || got.JKT != "thumb-r1" || got.X5TS256 != "x5t-r1" || got.FamilyID != "f1" || !got.AuthTime.Equal(T0) || got.SessionID != "sid" ||
			len(got.Scopes) != 2 || !got.FamilyEndsAt.Equal(T0.Add(48*time.Hour)) || got.AccessJTI != "at1" {
			t.Fatalf("first token: %+v %v", got, err)
		}
		old, fam, err := e.RotateRefresh(e.ctx, hashOf("r1"), successor("r2", "at2"))
		if err != nil {
			t.Fatal(err)
		}
		if old.Spent || old.Subject != "alice" || fam.ID != "f1" || len(fam.Access) != 1 || fam.Access[0].JTI != "at1" {
			t.Fatalf("rotation returned old=%+v fam=%+v", old, fam)
		}
		// The previous access token is revoked, the new one is not.
		if got := revokedJTIs(t, e); !slices.Equal(got, []string{"at1"}) {
			t.Fatalf("revoked %v, want [at1]", got)
		}
		if r1, err := e.GetRefresh(e.ctx, hashOf("r1")); err != nil || !r1.Spent {
			t.Fatalf("r1 after rotation: %+v %v", r1, err)
		}
		r2, err := e.GetRefresh(e.ctx, hashOf("r2"))
		if err != nil || r2.Spent || r2.FamilyID != "f1" || r2.AccessJTI != "at2" {
			t.Fatalf("r2 (family forced to f1): %+v %v", r2, err)
		}
		// The successor rotates in turn.
		if _, fam, err := e.RotateRefresh(e.ctx, hashOf("r2"), successor("r3", "at3")); err != nil || fam.Access[0].JTI != "at2" {
			t.Fatalf("second rotation: %v %+v", err, fam)
		}
	},
	"ReuseRevokesFamily": func(t *testing.T, e *env) {
		startFamily(t, e, "f1", "at1", "r1")
		startFamily(t, e, "f2", "other", "x1")
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("r1"), successor("r2", "at2")); err != nil {
			t.Fatal(err)
		}
		called := false
		_, fam, err := e.RotateRefresh(e.ctx, hashOf("r1"), func(store.RefreshRecord) (store.RefreshRecord, error) {
			called = true
			return store.RefreshRecord{}, errors.New("must not be called")
		})
		if !errors.Is(err, store.ErrRefreshReused) || called {
			t.Fatalf("reuse: err=%v next called=%v", err, called)
		}
		if len(fam.Access) != 1 || fam.Access[0].JTI != "at2" {
			t.Fatalf("reuse returned the family %+v", fam)
		}
		if got := revokedJTIs(t, e); !slices.Equal(got, []string{"at1", "at2"}) {
			t.Fatalf("revoked %v, want the family's access tokens [at1 at2]", got)
		}
		// The live successor is dead too; the other family is untouched.
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("r2"), successor("r3", "at3")); !errors.Is(err, store.ErrFamilyRevoked) {
			t.Fatalf("successor of a revoked family: %v", err)
		}
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("x1"), successor("x2", "other2")); err != nil {
			t.Fatalf("other family: %v", err)
		}
	},
	"ConcurrentRotateOneWinner": func(t *testing.T, e *env) {
		startFamily(t, e, "f1", "at1", "r1")
		var wins, reused, other atomic.Int32
		var wg sync.WaitGroup
		for n := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := "next-" + string(rune('A'+n))
				_, _, err := e.RotateRefresh(e.ctx, hashOf("r1"), successor(name, name))
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrRefreshReused), errors.Is(err, store.ErrFamilyRevoked):
					reused.Add(1)
				default:
					other.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || other.Load() != 0 {
			t.Fatalf("wins=%d reused=%d other=%d, want exactly one winner", wins.Load(), reused.Load(), other.Load())
		}
	},
	"NextErrorChangesNothing": func(t *testing.T, e *env) {
		startFamily(t, e, "f1", "at1", "r1")
		boom := errors.New("client mismatch")
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("r1"), func(store.RefreshRecord) (store.RefreshRecord, error) {
			return store.RefreshRecord{}, boom
		}); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if r, err := e.GetRefresh(e.ctx, hashOf("r1")); err != nil || r.Spent {
			t.Fatalf("after an aborted rotation: %+v %v", r, err)
		}
		if got := revokedJTIs(t, e); len(got) != 0 {
			t.Fatalf("revoked %v", got)
		}
		// A successor without expiry or with the old hash is refused too.
		for name, next := range map[string]func(store.RefreshRecord) (store.RefreshRecord, error){
			"no expiry": func(o store.RefreshRecord) (store.RefreshRecord, error) {
				o.Hash, o.ExpiresAt = hashOf("n"), time.Time{}
				return o, nil
			},
			"same hash": func(o store.RefreshRecord) (store.RefreshRecord, error) { return o, nil },
		} {
			if _, _, err := e.RotateRefresh(e.ctx, hashOf("r1"), next); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("r1"), successor("r2", "at2")); err != nil {
			t.Fatal(err)
		}
	},
	"Expiry": func(t *testing.T, e *env) {
		startFamily(t, e, "f1", "at1", "r1")
		e.clock.Set(T0.Add(24 * time.Hour))
		if _, err := e.GetRefresh(e.ctx, hashOf("r1")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired token: %v", err)
		}
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("r1"), successor("r2", "at2")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotating an expired token: %v", err)
		}
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("unknown"), successor("r2", "at2")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
	},
	"FamilyGoneIsNotFound": func(t *testing.T, e *env) {
		// A token that outlives its family record is refused.
		rec := testRefresh("r1", "f1", "at1")
		rec.ExpiresAt = T0.Add(72 * time.Hour)
		if err := e.StartFamily(e.ctx, testFamily("f1", "at1"), &rec); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(T0.Add(48 * time.Hour))
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("r1"), successor("r2", "at2")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("family expired: %v", err)
		}
	},
	"RevokeFamily": func(t *testing.T, e *env) {
		startFamily(t, e, "f1", "at1", "r1")
		fam, err := e.RevokeFamily(e.ctx, "f1", T0.Add(time.Hour))
		if err != nil || len(fam.Access) != 1 || fam.Access[0].JTI != "at1" || fam.Revoked {
			t.Fatalf("revoke: %+v %v", fam, err)
		}
		if got := revokedJTIs(t, e); !slices.Equal(got, []string{"at1"}) {
			t.Fatalf("revoked %v", got)
		}
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("r1"), successor("r2", "at2")); !errors.Is(err, store.ErrFamilyRevoked) {
			t.Fatalf("rotating in a revoked family: %v", err)
		}
		if fam, err := e.RevokeFamily(e.ctx, "f1", T0.Add(time.Hour)); err != nil || !fam.Revoked {
			t.Fatalf("second revoke: %+v %v", fam, err)
		}
		// A family revoked before it started never starts (a code replayed
		// between its redemption and the exchange's StartFamily).
		if _, err := e.RevokeFamily(e.ctx, "late", T0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		rec := testRefresh("l1", "late", "atl")
		if err := e.StartFamily(e.ctx, testFamily("late", "atl"), &rec); !errors.Is(err, store.ErrFamilyRevoked) {
			t.Fatalf("start after revoke: %v", err)
		}
		if _, err := e.GetRefresh(e.ctx, hashOf("l1")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refused start stored its token: %v", err)
		}
		// Its access token is revoked as if the replay had come after.
		if got := revokedJTIs(t, e); !slices.Equal(got, []string{"at1", "atl"}) {
			t.Fatalf("revoked %v, want the late family's access token too", got)
		}
		if _, err := e.RevokeFamily(e.ctx, "late", T0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := e.StartFamily(e.ctx, testFamily("late", "atl"), nil); !errors.Is(err, store.ErrFamilyRevoked) {
			t.Fatalf("a second late start: %v", err)
		}
	},
	"StartWithoutRefreshToken": func(t *testing.T, e *env) {
		if err := e.StartFamily(e.ctx, testFamily("f1", "at1"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.RevokeFamily(e.ctx, "f1", T0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := revokedJTIs(t, e); !slices.Equal(got, []string{"at1"}) {
			t.Fatalf("revoked %v", got)
		}
	},
	"Invalid": func(t *testing.T, e *env) {
		good := testRefresh("r1", "f1", "at1")
		for name, tc := range map[string]struct {
			fam   store.RefreshFamily
			first *store.RefreshRecord
		}{
			"family without id":     {store.RefreshFamily{ExpiresAt: T0.Add(time.Hour)}, nil},
			"family without expiry": {store.RefreshFamily{ID: "f1"}, nil},
			"token of another family": {testFamily("f1", "a"), func() *store.RefreshRecord {
				r := good
				r.FamilyID = "f2"
				return &r
			}()},
			"token without hash": {testFamily("f1", "a"), func() *store.RefreshRecord { r := good; r.Hash = nil; return &r }()},
			"token without expiry": {testFamily("f1", "a"), func() *store.RefreshRecord {
				r := good
				r.ExpiresAt = time.Time{}
				return &r
			}()},
		} {
			if err := e.StartFamily(e.ctx, tc.fam, tc.first); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		startFamily(t, e, "f1", "at1", "r1")
		if err := e.StartFamily(e.ctx, testFamily("f1", "at9"), nil); err == nil {
			t.Error("a second family with the same id accepted")
		}
		// A put cannot pre-spend a token.
		pre := testRefresh("p1", "fp", "atp")
		pre.Spent = true
		if err := e.StartFamily(e.ctx, testFamily("fp", "atp"), &pre); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.RotateRefresh(e.ctx, hashOf("p1"), successor("p2", "atp2")); err != nil {
			t.Fatalf("a token put with Spent set: %v", err)
		}
		if _, err := e.RevokeFamily(e.ctx, "", T0.Add(time.Hour)); err == nil {
			t.Error("revoking the empty family id accepted")
		}
		if _, err := e.RevokeFamily(e.ctx, "f1", time.Time{}); err == nil {
			t.Error("revoking without until accepted")
		}
	},
}
