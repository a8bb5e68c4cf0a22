package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

var limitCases = map[string]func(*testing.T, *env){
	"MaxKeySize": func(t *testing.T, e *env) {
		long := strings.Repeat("k", store.MaxKeySize+1)
		max := strings.Repeat("k", store.MaxKeySize)
		until := T0.Add(time.Hour)
		if err := e.PutToken(e.ctx, store.TokenRecord{Hash: []byte(long), ExpiresAt: until}); err == nil {
			t.Error("oversized token hash accepted")
		}
		if _, err := e.GetToken(e.ctx, []byte(long)); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("oversized token hash on get: %v", err)
		}
		if err := e.Revoke(e.ctx, long, until); err == nil {
			t.Error("oversized jti accepted")
		}
		if _, err := e.MarkUsed(e.ctx, long, until); err == nil {
			t.Error("oversized marker key accepted")
		}
		if err := e.PutClient(e.ctx, store.Client{ID: long}); err == nil {
			t.Error("oversized client id accepted")
		}
		if _, err := e.UpdateSigningKeys(e.ctx, long, func(c []store.SigningKey) ([]store.SigningKey, error) { return c, nil }); err == nil {
			t.Error("oversized issuer accepted")
		}
		// The limit itself is fine.
		if first, err := e.MarkUsed(e.ctx, max, until); err != nil || !first {
			t.Errorf("marker key of MaxKeySize: %v %v", first, err)
		}
		if err := e.Revoke(e.ctx, max, until); err != nil {
			t.Errorf("jti of MaxKeySize: %v", err)
		}
	},
	"MaxRecordSize": func(t *testing.T, e *env) {
		big := strings.Repeat("s", store.DefaultMaxRecordSize)
		if err := e.PutToken(e.ctx, store.TokenRecord{Hash: hashOf("x"), ExpiresAt: T0.Add(time.Hour), Scopes: []string{big}}); err == nil {
			t.Error("oversized token record accepted")
		}
		if _, err := e.GetToken(e.ctx, hashOf("x")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("oversized token was stored: %v", err)
		}
		if err := e.PutClient(e.ctx, store.Client{ID: "big", Scopes: make([]string, 30000)}); err == nil {
			t.Error("oversized client accepted")
		}
		if _, err := e.GetClient(e.ctx, "big"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("oversized client was stored: %v", err)
		}
		// Just under the limit is fine.
		if err := e.PutClient(e.ctx, store.Client{ID: "ok", Name: big[:store.DefaultMaxRecordSize-100]}); err != nil {
			t.Errorf("client under the limit: %v", err)
		}
	},
}
