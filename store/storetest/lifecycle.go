package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// everyOperation calls each method of the engine once and returns the
// errors by method name.
func everyOperation(ctx context.Context, e store.Engine) map[string]error {
	until := T0.Add(time.Hour)
	errs := map[string]error{}
	_, errs["UpdateSigningKeys"] = e.UpdateSigningKeys(ctx, testIssuer, func(c []store.SigningKey) ([]store.SigningKey, error) { return c, nil })
	_, errs["SigningKeys"] = e.SigningKeys(ctx, testIssuer)
	errs["PutToken"] = e.PutToken(ctx, store.TokenRecord{Hash: hashOf("t"), ExpiresAt: until})
	_, errs["GetToken"] = e.GetToken(ctx, hashOf("t"))
	errs["DeleteToken"] = e.DeleteToken(ctx, hashOf("t"))
	errs["Revoke"] = e.Revoke(ctx, "j", until)
	_, _, errs["RevocationsSince"] = e.RevocationsSince(ctx, "")
	_, errs["MarkUsed"] = e.MarkUsed(ctx, "m", until)
	errs["PutClient"] = e.PutClient(ctx, store.Client{ID: "c"})
	_, errs["GetClient"] = e.GetClient(ctx, "c")
	errs["DeleteClient"] = e.DeleteClient(ctx, "c")
	_, errs["Clients"] = e.Clients(ctx)
	_, errs["UpdateClient"] = e.UpdateClient(ctx, "c", func(c *store.Client) (*store.Client, error) { return c, nil })
	_, errs["ClientsVersion"] = e.ClientsVersion(ctx)
	errs["SetNotBefore"] = e.SetNotBefore(ctx, store.NotBefore{Issuer: testIssuer, Kind: store.NotBeforeClient, ID: "c", At: T0, Until: until})
	_, errs["NotBefores"] = e.NotBefores(ctx, testIssuer)
	errs["PutSession"] = e.PutSession(ctx, store.Session{Kind: "k", ID: "s", ExpiresAt: until})
	_, errs["GetSession"] = e.GetSession(ctx, "k", "s")
	errs["DeleteSession"] = e.DeleteSession(ctx, "k", "s")
	errs["PutCode"] = e.PutCode(ctx, store.CodeRecord{Hash: hashOf("c"), ExpiresAt: until})
	_, _, errs["RedeemCode"] = e.RedeemCode(ctx, hashOf("c"))
	return errs
}

var lifecycleCases = map[string]func(*testing.T, *env){
	"CanceledContext": func(t *testing.T, e *env) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for op, err := range everyOperation(ctx, e.Engine) {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a canceled context: %v", op, err)
			}
		}
	},
	"ClosedEngineFails": func(t *testing.T, e *env) {
		if err := e.PutClient(e.ctx, store.Client{ID: "before"}); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		for op, err := range everyOperation(e.ctx, e.Engine) {
			if !errors.Is(err, store.ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", op, err)
			}
		}
	},
	"CloseTwice": func(t *testing.T, e *env) {
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	},
	"OpenEngineWorks": func(t *testing.T, e *env) {
		for op, err := range everyOperation(e.ctx, e.Engine) {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v", op, err)
			}
		}
	},
}
