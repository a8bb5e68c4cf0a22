package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

func revoke(t *testing.T, e *env, jti string, until time.Time) {
	t.Helper()
	if err := e.Revoke(e.ctx, jti, until); err != nil {
		t.Fatal(err)
	}
}

func since(t *testing.T, e *env, c store.RevocationCursor) ([]store.Revocation, store.RevocationCursor) {
	t.Helper()
	revs, next, err := e.RevocationsSince(e.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return revs, next
}

func jtis(revs []store.Revocation) string {
	var out []string
	for _, r := range revs {
		out = append(out, r.JTI)
	}
	return fmt.Sprint(out)
}

var revocationCases = map[string]func(*testing.T, *env){
	"KeepTheLaterUntil": func(t *testing.T, e *env) {
		if revs, _ := since(t, e, ""); len(revs) != 0 {
			t.Fatalf("empty: %v", revs)
		}
		revoke(t, e, "j1", T0.Add(time.Hour))
		revoke(t, e, "j2", T0.Add(time.Minute))
		// Revoking again with an earlier `until` keeps the later one.
		revoke(t, e, "j1", T0.Add(time.Second))
		revs, _ := since(t, e, "")
		if len(revs) != 2 || revs[0].JTI != "j1" || !revs[0].Until.Equal(T0.Add(time.Hour)) ||
			revs[1].JTI != "j2" || !revs[1].Until.Equal(T0.Add(time.Minute)) {
			t.Fatalf("revocations = %+v", revs)
		}
		// Extending works.
		revoke(t, e, "j2", T0.Add(2*time.Hour))
		e.clock.Set(T0.Add(90 * time.Minute))
		revs, _ = since(t, e, "")
		if len(revs) != 1 || revs[0].JTI != "j2" || !revs[0].Until.Equal(T0.Add(2*time.Hour)) {
			t.Fatalf("after j1 expired: %+v", revs)
		}
	},
	"Expiry": func(t *testing.T, e *env) {
		revoke(t, e, "j", T0.Add(time.Minute))
		e.clock.Set(T0.Add(time.Minute - time.Nanosecond))
		if revs, _ := since(t, e, ""); jtis(revs) != "[j]" {
			t.Fatalf("just before until: %v", revs)
		}
		e.clock.Set(T0.Add(time.Minute))
		if revs, _ := since(t, e, ""); len(revs) != 0 {
			t.Fatalf("at until: %v", revs)
		}
		// A revocation that expired may be recorded again.
		e.clock.Add(24 * time.Hour)
		revoke(t, e, "j", e.clock.Now().Add(time.Minute))
		if revs, _ := since(t, e, ""); jtis(revs) != "[j]" {
			t.Fatalf("revoked again: %v", revs)
		}
	},
	"Feed": func(t *testing.T, e *env) {
		revs, c0 := since(t, e, "")
		if len(revs) != 0 {
			t.Fatalf("empty: %v", revs)
		}
		revoke(t, e, "a", T0.Add(time.Hour))
		revoke(t, e, "b", T0.Add(time.Hour))
		revs, c1 := since(t, e, c0)
		if jtis(revs) != "[a b]" {
			t.Fatalf("since the empty feed: %v", jtis(revs))
		}
		// Nothing new: nothing returned, and the cursor still works.
		revs, c2 := since(t, e, c1)
		if len(revs) != 0 {
			t.Fatalf("no news: %v", jtis(revs))
		}
		revoke(t, e, "c", T0.Add(time.Hour))
		revoke(t, e, "a", T0.Add(time.Second)) // not an extension: no news
		revs, c3 := since(t, e, c2)
		if jtis(revs) != "[c]" {
			t.Fatalf("after c: %v", jtis(revs))
		}
		// An extension is news again, with its new until.
		revoke(t, e, "a", T0.Add(2*time.Hour))
		revs, c4 := since(t, e, c3)
		if jtis(revs) != "[a]" || !revs[0].Until.Equal(T0.Add(2*time.Hour)) {
			t.Fatalf("after extending a: %+v", revs)
		}
		// Old cursors still work: everything after them, once each.
		if revs, _ := since(t, e, c1); jtis(revs) != "[c a]" {
			t.Fatalf("since c1: %v", jtis(revs))
		}
		if revs, _ := since(t, e, ""); jtis(revs) != "[b c a]" {
			t.Fatalf("from the start: %v", jtis(revs))
		}
		// A cursor from a longer feed (the engine was replaced or reset)
		// starts over rather than missing revocations.
		other := open(t, e.factory)
		for i := range 20 {
			revoke(t, other, fmt.Sprint("o", i), T0.Add(time.Hour))
		}
		_, ahead := since(t, other, "")
		if revs, _ := since(t, e, ahead); jtis(revs) != "[b c a]" {
			t.Fatalf("cursor ahead of the feed: %v", jtis(revs))
		}
		// Expired revocations are not news. (Last: once the clock is past
		// "short"'s until, a purger may remove it at any moment.)
		revoke(t, e, "short", T0.Add(time.Minute))
		e.clock.Set(T0.Add(time.Minute))
		if revs, _ := since(t, e, c4); len(revs) != 0 {
			t.Fatalf("expired revocation in the feed: %v", jtis(revs))
		}
		if _, _, err := e.RevocationsSince(e.ctx, "not a cursor"); err == nil {
			t.Error("a malformed cursor was accepted")
		}
	},
	"Validation": func(t *testing.T, e *env) {
		if err := e.Revoke(e.ctx, "", T0); err == nil {
			t.Error("empty jti accepted")
		}
		if err := e.Revoke(e.ctx, "j3", time.Time{}); err == nil {
			t.Error("zero until accepted")
		}
	},
}
