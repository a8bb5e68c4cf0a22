package storetest

import (
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

var notBeforeCases = map[string]func(*testing.T, *env){
	"SetAndList": func(t *testing.T, e *env) {
		if nbs, err := e.NotBefores(e.ctx, testIssuer); err != nil || len(nbs) != 0 {
			t.Fatalf("empty: %v %v", nbs, err)
		}
		at := T0.Add(time.Minute)
		for _, nb := range []store.NotBefore{
			{Issuer: testIssuer, Kind: store.NotBeforeUser, ID: "alice", At: at, Until: at.Add(time.Hour)},
			{Issuer: testIssuer, Kind: store.NotBeforeClient, ID: "b", At: at, Until: at.Add(time.Hour)},
			{Issuer: testIssuer, Kind: store.NotBeforeClient, ID: "a", At: at, Until: at.Add(time.Hour)},
			{Issuer: testIssuer + "/other", Kind: store.NotBeforeClient, ID: "a", At: at, Until: at.Add(time.Hour)},
		} {
			if err := e.SetNotBefore(e.ctx, nb); err != nil {
				t.Fatal(err)
			}
		}
		nbs, err := e.NotBefores(e.ctx, testIssuer)
		if err != nil || len(nbs) != 3 {
			t.Fatalf("list: %+v %v", nbs, err)
		}
		want := []string{"client/a", "client/b", "user/alice"}
		for i, nb := range nbs {
			if nb.Kind+"/"+nb.ID != want[i] || nb.Issuer != testIssuer || !nb.At.Equal(at) {
				t.Fatalf("record %d = %+v, want %s", i, nb, want[i])
			}
		}
	},
	"KeepsTheLater": func(t *testing.T, e *env) {
		at := T0.Add(time.Minute)
		set := func(at, until time.Time) {
			t.Helper()
			if err := e.SetNotBefore(e.ctx, store.NotBefore{Issuer: testIssuer, Kind: store.NotBeforeClient, ID: "c", At: at, Until: until}); err != nil {
				t.Fatal(err)
			}
		}
		set(at, at.Add(2*time.Hour))
		set(at.Add(-time.Second), at.Add(time.Hour)) // earlier: changes nothing
		nbs, _ := e.NotBefores(e.ctx, testIssuer)
		if len(nbs) != 1 || !nbs[0].At.Equal(at) || !nbs[0].Until.Equal(at.Add(2*time.Hour)) {
			t.Fatalf("after an earlier set: %+v", nbs)
		}
		set(at.Add(time.Second), at.Add(time.Hour))
		nbs, _ = e.NotBefores(e.ctx, testIssuer)
		if len(nbs) != 1 || !nbs[0].At.Equal(at.Add(time.Second)) || !nbs[0].Until.Equal(at.Add(2*time.Hour)) {
			t.Fatalf("after a later set: %+v", nbs)
		}
	},
	"Expires": func(t *testing.T, e *env) {
		until := T0.Add(time.Hour)
		if err := e.SetNotBefore(e.ctx, store.NotBefore{Issuer: testIssuer, Kind: store.NotBeforeUser, ID: "u", At: T0, Until: until}); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(until)
		if nbs, err := e.NotBefores(e.ctx, testIssuer); err != nil || len(nbs) != 0 {
			t.Fatalf("expired record listed: %+v %v", nbs, err)
		}
	},
	"Validation": func(t *testing.T, e *env) {
		for name, nb := range map[string]store.NotBefore{
			"kind":     {Issuer: testIssuer, Kind: "group", ID: "x", At: T0, Until: T0},
			"issuer":   {Kind: store.NotBeforeUser, ID: "x", At: T0, Until: T0},
			"id":       {Issuer: testIssuer, Kind: store.NotBeforeUser, At: T0, Until: T0},
			"no at":    {Issuer: testIssuer, Kind: store.NotBeforeUser, ID: "x", Until: T0},
			"backward": {Issuer: testIssuer, Kind: store.NotBeforeUser, ID: "x", At: T0, Until: T0.Add(-1)},
		} {
			if err := e.SetNotBefore(e.ctx, nb); err == nil {
				t.Errorf("%s: invalid record accepted", name)
			}
		}
		if _, err := e.NotBefores(e.ctx, ""); err == nil {
			t.Error("empty issuer accepted")
		}
	},
}
