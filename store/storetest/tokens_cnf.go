package storetest

import (
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// The binding of a sender-constrained opaque token (cnf: certificate
// thumbprint, DPoP key thumbprint) is kept with the record.
func init() {
	tokenCases["ConfirmationRoundTrip"] = func(t *testing.T, e *env) {
		rec := store.TokenRecord{Hash: hashOf("bound"), JTI: "jb", ExpiresAt: T0.Add(time.Minute),
			CnfX5TS256: "x5t-thumbprint", CnfJKT: "jwk-thumbprint"}
		if err := e.PutToken(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
		got, err := e.GetToken(e.ctx, rec.Hash)
		if err != nil || got.CnfX5TS256 != "x5t-thumbprint" || got.CnfJKT != "jwk-thumbprint" {
			t.Fatalf("bound token: %+v %v", got, err)
		}
		plain := store.TokenRecord{Hash: hashOf("bearer"), ExpiresAt: T0.Add(time.Minute)}
		if err := e.PutToken(e.ctx, plain); err != nil {
			t.Fatal(err)
		}
		if got, err := e.GetToken(e.ctx, plain.Hash); err != nil || got.CnfX5TS256 != "" || got.CnfJKT != "" {
			t.Fatalf("bearer token: %+v %v", got, err)
		}
	}
}
