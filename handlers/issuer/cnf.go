package issuer

import (
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// recordConfirmation is the cnf of an opaque token record (store.TokenRecord
// mirrors token.Confirmation as plain strings: the store does not import
// token), nil for a bearer token.
func recordConfirmation(rec store.TokenRecord) *token.Confirmation {
	if rec.CnfX5TS256 == "" && rec.CnfJKT == "" {
		return nil
	}
	return &token.Confirmation{X5TS256: rec.CnfX5TS256, JKT: rec.CnfJKT}
}
