package issuer

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// peopleClients are the sign-in clients of the people tests: a confidential
// web app with every people grant and a public native app.
func peopleClients() []ClientConfig {
	return []ClientConfig{
		{ID: "web", Secrets: []SecretConfig{{Plain: "web-secret"}}, Scopes: []string{"openid", "profile", "email", "read", "write"},
			GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken, GrantImplicit},
			PeopleConfig: PeopleConfig{RedirectURIs: []string{"https://app.example/cb"}}},
		{ID: "mobile", Scopes: []string{"openid", "read"}, GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
			PeopleConfig: PeopleConfig{Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}}},
	}
}

// peopleEnv is an issuer with the people clients and users alice (claims),
// bob and carol (disabled).
func peopleEnv(t testing.TB, mutate func(*Config)) *testEnv {
	t.Helper()
	return newEnv(t, func(c *Config) {
		c.Clients = append(c.Clients, peopleClients()...)
		c.HashLimiter = NewHashLimiter(DefaultHashMemoryKiB, 4)
		c.Users = []UserConfig{
			{Name: "alice", PasswordHash: cheapHash(t, "alice-pw"), Claims: map[string]any{
				"email": "alice@example.com", "email_verified": true, "name": "Alice Example", "groups": []any{"staff"}}},
			{Name: "bob", PasswordHash: cheapHash(t, "bob-pw")},
			{Name: "carol", PasswordHash: cheapHash(t, "carol-pw"), Disabled: true},
		}
		if mutate != nil {
			mutate(c)
		}
	})
}

const tokensVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// codeOpts describe a code to put into the store.
type codeOpts struct {
	client, redirect, user, nonce, sid string
	scopes                             []string
	challenge                          string
}

// putCode stores a fresh code as the authorization endpoint would and
// returns it.
func (e *testEnv) putCode(o codeOpts) string {
	e.t.Helper()
	code, err := randomToken()
	if err != nil {
		e.t.Fatal(err)
	}
	if o.client == "" {
		o.client = "web"
	}
	if o.redirect == "" {
		o.redirect = map[string]string{"web": "https://app.example/cb", "mobile": "http://127.0.0.1/cb"}[o.client]
	}
	if o.user == "" {
		o.user = "alice"
	}
	if o.scopes == nil {
		o.scopes = []string{"openid", "profile", "email", "read"}
	}
	if o.challenge == "" {
		o.challenge = PKCEChallenge(tokensVerifier)
	}
	now := e.clock.Now()
	fam, _ := randomJTI()
	if err := e.store.PutCode(context.Background(), store.CodeRecord{
		Hash: codeHash(code), ClientID: o.client, RedirectURI: o.redirect, CodeChallenge: o.challenge,
		Nonce: o.nonce, Scopes: o.scopes, Subject: o.user, AuthTime: now.Add(-time.Minute), SessionID: o.sid,
		FamilyID: fam, RedeemBy: now.Add(60 * time.Second), ExpiresAt: now.Add(10 * time.Minute),
	}); err != nil {
		e.t.Fatal(err)
	}
	return code
}

// exchange redeems a code for the client (web by Basic, mobile by client_id).
func (e *testEnv) exchange(client, code, verifier, redirect string) resp {
	e.t.Helper()
	f := url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
	return e.asClient(client, f)
}

func (e *testEnv) refresh(client, rt string, extra url.Values) resp {
	e.t.Helper()
	f := url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}}
	for k, v := range extra {
		f[k] = v
	}
	return e.asClient(client, f)
}

func (e *testEnv) asClient(client string, f url.Values) resp {
	e.t.Helper()
	switch client {
	case "web":
		return e.do("POST", "/oauth/token", f, "web", "web-secret")
	default:
		f.Set("client_id", client)
		return e.do("POST", "/oauth/token", f, "", "")
	}
}
