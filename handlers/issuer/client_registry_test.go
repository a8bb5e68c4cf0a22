package issuer

import (
	"context"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// countingHandler counts log records by message.
type countingHandler struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs[r.Message]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.msgs[msg]
}

// A client put into, changed in or deleted from the store takes effect
// within ClientPollInterval, without a reload; a config client wins over a
// store client with its id (logged once).
func TestStoreClientsLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &countingHandler{msgs: map[string]int{}}
		clock := &fakeClock{t: time.Now()}
		db := openStore(t, clock)
		e := newEnvOn(t, db, clock, func(c *Config) {
			c.Now = time.Now // the bubble's clock
			c.Logger = slog.New(logs)
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); synctest.Wait() }()
		go e.iss.Run(ctx)

		cc := url.Values{"grant_type": {GrantClientCredentials}}
		wantOAuthError(t, e.do("POST", "/oauth/token", cc, "runtime", "rt-secret"), 401, errInvalidClient)
		put := func(c store.Client) {
			t.Helper()
			if err := db.PutClient(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
		put(store.Client{ID: "runtime", SecretHashes: []store.SecretHash{{Hash: HashSecret("rt-secret")}},
			Scopes: []string{"read", "store-only"}, GrantTypes: []string{GrantClientCredentials, GrantTokenExchange}})
		// Collides with the config client "app": ignored.
		put(store.Client{ID: "app", SecretHashes: []store.SecretHash{{Hash: HashSecret("store-app-secret")}}})

		time.Sleep(ClientPollInterval)
		synctest.Wait()
		tok := e.token("runtime", "rt-secret", url.Values{"scope": {"store-only"}})
		if in := e.introspect(tok, "runtime", "rt-secret"); in["active"] != true || in["scope"] != "store-only" {
			t.Fatalf("store client's token: %v", in)
		}
		md := e.do("GET", PathASMetadata, nil, "", "")
		if !slices.Contains(toStrings(md.body["scopes_supported"]), "store-only") {
			t.Fatalf("metadata misses the store client's scope: %s", md.raw)
		}
		wantOAuthError(t, e.do("POST", "/oauth/token", cc, "app", "store-app-secret"), 401, errInvalidClient)
		e.token("app", "app-secret", nil)

		// Changed: the old secret stops working; deleted: the client and
		// its tokens are gone.
		put(store.Client{ID: "runtime", SecretHashes: []store.SecretHash{{Hash: HashSecret("rt-secret-2")}}, Scopes: []string{"read"}})
		time.Sleep(ClientPollInterval)
		synctest.Wait()
		wantOAuthError(t, e.do("POST", "/oauth/token", cc, "runtime", "rt-secret"), 401, errInvalidClient)
		tok = e.token("runtime", "rt-secret-2", nil)
		if err := db.DeleteClient(context.Background(), "runtime"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ClientPollInterval)
		synctest.Wait()
		wantOAuthError(t, e.do("POST", "/oauth/token", cc, "runtime", "rt-secret-2"), 401, errInvalidClient)
		if in := e.introspect(tok, "app", "app-secret"); in["active"] != false {
			t.Fatalf("token of a deleted store client: %v", in)
		}
		if n := logs.count("store client ignored: a config client has the same id"); n != 1 {
			t.Fatalf("collision logged %d times, want once", n)
		}
	})
}

// An unchanged store client keeps its rate-limit bucket across polls.
func TestStoreClientKeepsRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := &fakeClock{t: time.Now()}
		db := openStore(t, clock)
		if err := db.PutClient(context.Background(), store.Client{ID: "rt",
			SecretHashes: []store.SecretHash{{Hash: HashSecret("s"), Expires: time.Now().Add(24 * time.Hour)}}}); err != nil {
			t.Fatal(err)
		}
		e := newEnvOn(t, db, clock, func(c *Config) {
			c.Now = time.Now
			c.RateLimit = &RateLimit{N: 1, Per: time.Hour}
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); synctest.Wait() }()
		go e.iss.Run(ctx)
		e.token("rt", "s", nil) // present since Open
		time.Sleep(3 * ClientPollInterval)
		synctest.Wait()
		r := e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "rt", "s")
		if r.status != 429 {
			t.Fatalf("after polls: %d %s, want 429 (bucket kept)", r.status, r.raw)
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// grant_types_supported and token_endpoint_auth_methods_supported come from
// the registries.
func TestMetadataFromRegistries(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Clients = append(c.Clients, peopleClients()...) })
	md := e.do("GET", PathASMetadata, nil, "", "")
	var grants, auth []string
	for _, g := range grantRegistry {
		grants = append(grants, g.grantType())
	}
	for _, m := range clientAuthRegistry {
		auth = append(auth, m.name())
	}
	if got := toStrings(md.body["grant_types_supported"]); !slices.Equal(got, grants) {
		t.Errorf("grant_types_supported %v, want %v", got, grants)
	}
	if got := toStrings(md.body["token_endpoint_auth_methods_supported"]); !slices.Equal(got, auth) {
		t.Errorf("token_endpoint_auth_methods_supported %v, want %v", got, auth)
	}
	// Without a token-exchange client only the default grant is listed.
	e = newEnv(t, func(c *Config) { c.Clients = c.Clients[1:2] })
	md = e.do("GET", PathASMetadata, nil, "", "")
	if got := toStrings(md.body["grant_types_supported"]); !slices.Equal(got, []string{DefaultGrantType}) {
		t.Errorf("grant_types_supported %v", got)
	}
}

// Extra claims go into the JWT after the registered ones and cannot
// override them.
func TestMintExtraClaims(t *testing.T) {
	c := &client{id: "app"}
	m := &mintRequest{client: c, subject: "app", audience: []string{"a"}, extra: map[string]any{"z": 1, "tenant": "t<1>"}}
	b, err := encodeAccessClaims("https://i", m, "j", 10, 20)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"iss":"https://i","sub":"app","aud":"a","exp":20,"iat":10,"jti":"j","client_id":"app","tenant":"t\u003c1\u003e","z":1}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	m.extra = map[string]any{"sub": "other"}
	if _, err := encodeAccessClaims("https://i", m, "j", 10, 20); err == nil || !strings.Contains(err.Error(), "sub") {
		t.Fatalf("override of sub: %v", err)
	}
}
