package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

func testCode(name string) store.CodeRecord {
	return store.CodeRecord{
		Hash: hashOf(name), ClientID: "web", RedirectURI: "https://app.example/cb",
		CodeChallenge: "challenge", Nonce: "n", Scopes: []string{"openid", "email"},
		Subject: "alice", AuthTime: T0, SessionID: "sid", FamilyID: "fam-" + name,
		RedeemBy: T0.Add(time.Minute), ExpiresAt: T0.Add(10 * time.Minute),
	}
}

var codeCases = map[string]func(*testing.T, *env){
	"RedeemOnce": func(t *testing.T, e *env) {
		rec := testCode("c1")
		if err := e.PutCode(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
		got, first, err := e.RedeemCode(e.ctx, rec.Hash)
		if err != nil || !first {
			t.Fatalf("first redemption: first=%v err=%v", first, err)
		}
		if got.ClientID != "web" || got.RedirectURI != rec.RedirectURI || got.CodeChallenge != "challenge" ||
			got.Nonce != "n" || len(got.Scopes) != 2 || got.Subject != "alice" || !got.AuthTime.Equal(T0) ||
			got.SessionID != "sid" || got.FamilyID != "fam-c1" || !got.RedeemBy.Equal(rec.RedeemBy) || !got.Redeemed {
			t.Fatalf("record: %+v", got)
		}
		// A replay still finds the record (to revoke its family) but is not first.
		got, first, err = e.RedeemCode(e.ctx, rec.Hash)
		if err != nil || first || got.FamilyID != "fam-c1" {
			t.Fatalf("second redemption: first=%v err=%v rec=%+v", first, err, got)
		}
		if _, _, err := e.RedeemCode(e.ctx, hashOf("unknown")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown code: err = %v", err)
		}
	},
	"ConcurrentRedeemOneWinner": func(t *testing.T, e *env) {
		rec := testCode("c")
		if err := e.PutCode(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
		var wins, errs atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, first, err := e.RedeemCode(e.ctx, rec.Hash)
				if err != nil {
					errs.Add(1)
				}
				if first {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || errs.Load() != 0 {
			t.Fatalf("wins=%d errors=%d, want exactly one winner", wins.Load(), errs.Load())
		}
	},
	"Expiry": func(t *testing.T, e *env) {
		rec := testCode("c")
		if err := e.PutCode(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(rec.ExpiresAt)
		if _, _, err := e.RedeemCode(e.ctx, rec.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired code: err = %v", err)
		}
	},
	"Invalid": func(t *testing.T, e *env) {
		if err := e.PutCode(e.ctx, store.CodeRecord{ExpiresAt: T0.Add(time.Minute)}); err == nil {
			t.Error("code without hash accepted")
		}
		if err := e.PutCode(e.ctx, store.CodeRecord{Hash: hashOf("x")}); err == nil {
			t.Error("code without expiry accepted")
		}
		// Putting a record cannot pre-redeem it.
		rec := testCode("pre")
		rec.Redeemed = true
		if err := e.PutCode(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
		if _, first, err := e.RedeemCode(e.ctx, rec.Hash); err != nil || !first {
			t.Fatalf("a put with Redeemed set: first=%v err=%v", first, err)
		}
	},
}
