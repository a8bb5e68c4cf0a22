package issuer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store/memory"
)

const testIss = "https://auth.example.com"

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// newClock is the tests' clock, at a fixed instant.
func newClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testEnv struct {
	t     testing.TB
	iss   *Issuer
	store *memory.Store
	clock *fakeClock
	ip    netip.Addr
}

// openStore returns an in-memory engine on the test's clock.
func openStore(t testing.TB, clock *fakeClock) *memory.Store {
	t.Helper()
	db := memory.New(memory.Options{Now: clock.Now})
	t.Cleanup(func() { db.Close() })
	return db
}

func baseConfig() Config {
	return Config{
		Issuer: testIss,
		Clients: []ClientConfig{
			{ID: "app", Secrets: []SecretConfig{{Plain: "app-secret"}}, Scopes: []string{"read", "write", "admin"},
				GrantTypes: []string{GrantClientCredentials, GrantTokenExchange}},
			{ID: "other", Secrets: []SecretConfig{{Plain: "other-secret"}}, Scopes: []string{"read"}},
			{ID: "off", Secrets: []SecretConfig{{Plain: "off-secret"}}, Disabled: true},
			{ID: "opq", Secrets: []SecretConfig{{Plain: "opq-secret"}}, Scopes: []string{"read"}, TokenFormat: FormatOpaque,
				GrantTypes: []string{GrantClientCredentials, GrantTokenExchange}},
			{ID: "postonly", Secrets: []SecretConfig{{Plain: "p"}}, AuthMethods: []string{AuthClientSecretPost}},
			{ID: "lan", Secrets: []SecretConfig{{Plain: "lan-secret"}}, AllowIP: []string{"10.0.0.0/8"}},
		},
	}
}

func newEnv(t testing.TB, mutate func(*Config)) *testEnv {
	t.Helper()
	return newTestEnv(t, true, mutate)
}

// newTestEnv is newEnv with or without a store (an issuer that validated but
// cannot issue yet).
func newTestEnv(t testing.TB, withStore bool, mutate func(*Config)) *testEnv {
	t.Helper()
	clock := newClock()
	var db *memory.Store
	if withStore {
		db = openStore(t, clock)
	}
	return newEnvOn(t, db, clock, mutate)
}

func newEnvOn(t testing.TB, db *memory.Store, clock *fakeClock, mutate func(*Config)) *testEnv {
	t.Helper()
	cfg := baseConfig()
	if db != nil {
		cfg.Store = db
	}
	cfg.Now = clock.Now
	if mutate != nil {
		mutate(&cfg)
	}
	iss, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, iss: iss, store: db, clock: clock, ip: netip.MustParseAddr("10.1.2.3")}
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *testEnv) do(method, path string, form url.Values, basicID, basicSecret string) resp {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if basicID != "" {
		r.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return e.serve(r)
}

func (e *testEnv) serve(r *http.Request) resp {
	e.t.Helper()
	w := httptest.NewRecorder()
	if !e.iss.Handle(w, r, e.ip) {
		return resp{status: -1}
	}
	out := resp{status: w.Code, header: w.Header(), raw: w.Body.String()}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out.body); err != nil {
			e.t.Fatalf("response is not JSON: %v: %q", err, w.Body.String())
		}
	}
	return out
}

// token gets a client_credentials token by Basic auth.
func (e *testEnv) token(id, secret string, extra url.Values) string {
	e.t.Helper()
	f := url.Values{"grant_type": {GrantClientCredentials}}
	for k, v := range extra {
		f[k] = v
	}
	r := e.do("POST", "/oauth/token", f, id, secret)
	if r.status != 200 {
		e.t.Fatalf("token for %s: %d %s", id, r.status, r.raw)
	}
	return r.body["access_token"].(string)
}

func (e *testEnv) introspect(tok, id, secret string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/oauth/introspect", url.Values{"token": {tok}}, id, secret)
	if r.status != 200 {
		e.t.Fatalf("introspect: %d %s", r.status, r.raw)
	}
	return r.body
}

func decodeJWT(t *testing.T, tok string) (hdr, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	for i, dst := range []*map[string]any{&hdr, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, claims
}

func wantOAuthError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status || r.body["error"] != code {
		t.Fatalf("want %d %s, got %d %s", status, code, r.status, r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("error response lacks no-store headers: %v", r.header)
	}
}
