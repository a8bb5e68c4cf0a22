package issuer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
)

// usersDown fails user lookups while down is set, as an unreachable shared
// store does.
type usersDown struct {
	*memory.Store
	down *atomic.Bool
}

func (u usersDown) GetUser(ctx context.Context, name string) (store.UserRecord, error) {
	if u.down.Load() {
		return store.UserRecord{}, errors.New("store unreachable")
	}
	return u.Store.GetUser(ctx, name)
}

// A user store that cannot be reached for a moment does not end a signed-in
// person's SSO session: the request gets no session, the next one after the
// outage finds it again.
func TestSSOSessionSurvivesUserStoreOutage(t *testing.T) {
	var down atomic.Bool
	e := newSignInEnv(t, func(c *Config) { c.Store = usersDown{Store: c.Store.(*memory.Store), down: &down} })
	e.store.PutUser(context.Background(), storeUser(t, "dave", "dave-pw", false))
	q := map[string]string{"client_id": "first", "redirect_uri": "https://first.example/cb", "scope": "openid"}
	if r := e.login(t, e.get(t, "/oauth/authorize?"+authzQuery(q)), "dave", "dave-pw"); r.location(t).Query().Get("code") == "" {
		t.Fatal("sign-in")
	}
	q["prompt"] = "none"
	down.Store(true)
	if p := e.get(t, "/oauth/authorize?"+authzQuery(q)); p.location(t).Query().Get("code") != "" {
		t.Fatal("a code while the user store is unreachable")
	}
	down.Store(false)
	if p := e.get(t, "/oauth/authorize?"+authzQuery(q)); p.location(t).Query().Get("code") == "" {
		t.Fatalf("the session did not survive the outage: %s", p.location(t))
	}
}
