package issuer

import (
	"context"
	"testing"

	"github.com/authgate/caddy-authgate/token"
)

// An issuer instance that goes away retires its keys: tokens it verified
// leave every gateway's cache, and later refreshes load nothing new.
func TestRetireKeys(t *testing.T) {
	e := newEnv(t, nil)
	hdr, _ := decodeJWT(t, e.token("app", "app-secret", nil))
	kid := hdr["kid"].(string)
	keys, err := e.iss.ResolveKeys(context.Background(), kid, hdr["alg"].(string))
	if err != nil || len(keys) != 1 || keys[0].Retired() {
		t.Fatalf("before: %v %v", keys, err)
	}
	e.iss.RetireKeys()
	if !keys[0].Retired() {
		t.Fatal("key not retired")
	}
	e.clock.Advance(2 * keyRecheck) // a refresh is due
	keys, _ = e.iss.ResolveKeys(context.Background(), kid, hdr["alg"].(string))
	for _, k := range keys {
		if !k.Retired() {
			t.Fatal("a retired issuer loaded a usable key again")
		}
	}
	var never Issuer
	never.RetireKeys() // before Open: no keys, no panic
}

func TestAddressBound(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		c    *token.Claims
		want bool
	}{
		{&token.Claims{Issuer: testIss, ClientID: "lan"}, true},
		{&token.Claims{Issuer: testIss, ClientID: "app"}, false},
		{&token.Claims{Issuer: testIss, ClientID: "gone"}, false},
		{&token.Claims{Issuer: "https://other", ClientID: "lan"}, false},
		{nil, false},
	} {
		if got := e.iss.AddressBound(tc.c); got != tc.want {
			t.Errorf("%+v: %v", tc.c, got)
		}
	}
}
