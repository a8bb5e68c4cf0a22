package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
	"github.com/authgate/caddy-authgate/token"
)

const fakeIss = "https://op.example"

// fakeOP is a minimal OpenID provider for unit tests: it checks PKCE, mints
// ID tokens (which a test may spoil), and counts refreshes. Its refresh
// tokens are single use, like strict providers'.
type fakeOP struct {
	*httptest.Server
	t      testing.TB
	clock  *testutil.Clock
	signer signer
	keys   *token.KeySet

	mu        sync.Mutex
	codes     map[string]fakeCode // code -> what it was issued for
	refreshes map[string]bool     // live refresh tokens
	userinfo  map[string]any
	spoil     func(claims map[string]any) // edits the next ID token's claims
	refreshN  atomic.Int32
	failNext  int // refresh status to answer once (0: none)
	atTTL     int64
}

type fakeCode struct {
	challenge, nonce, redirect string
}

func newFakeOP(t testing.TB, clock *testutil.Clock) *fakeOP {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, _ := token.NewKey("op1", "", &priv.PublicKey, "op")
	op := &fakeOP{t: t, clock: clock, signer: signer{alg: token.ES256, kid: "op1", key: priv}, keys: token.NewKeySet(k),
		codes: map[string]fakeCode{}, refreshes: map[string]bool{}, atTTL: 300,
		userinfo: map[string]any{"sub": "alice", "email": "alice@example.com", "groups": []any{"staff"}}}
	op.Server = httptest.NewServer(http.HandlerFunc(op.serve))
	t.Cleanup(op.Close)
	return op
}

func (op *fakeOP) endpoints(context.Context) (ProviderEndpoints, error) {
	return ProviderEndpoints{Issuer: fakeIss, AuthorizationEndpoint: op.URL + "/auth", TokenEndpoint: op.URL + "/token",
		UserinfoEndpoint: op.URL + "/userinfo", EndSessionEndpoint: op.URL + "/logout"}, nil
}

// authorize plays the provider's sign-in for an authorization URL: it
// remembers the PKCE challenge and nonce and returns the callback query.
func (op *fakeOP) authorize(t testing.TB, authURL string) url.Values {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || !strings.HasPrefix(authURL, op.URL+"/auth?") {
		t.Fatalf("not an authorization URL: %q", authURL)
	}
	q := u.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("client_id") != "portal" {
		t.Fatalf("authorization request: %v", q)
	}
	code := randomToken()
	op.mu.Lock()
	op.codes[code] = fakeCode{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")}
	op.mu.Unlock()
	return url.Values{"state": {q.Get("state")}, "code": {code}}
}

func (op *fakeOP) idToken(nonce, at string) string {
	now := op.clock.Now().Unix()
	c := map[string]any{"iss": fakeIss, "sub": "alice", "aud": "portal", "exp": now + 60, "iat": now, "nonce": nonce}
	if at != "" {
		h, _ := tokenHash(token.ES256, at)
		c["at_hash"] = h
	}
	op.mu.Lock()
	spoil := op.spoil
	op.spoil = nil
	op.mu.Unlock()
	if spoil != nil {
		spoil(c)
	}
	return op.signer.sign(op.t, c)
}

func (op *fakeOP) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/token":
		_ = r.ParseForm()
		if id, secret, ok := r.BasicAuth(); !ok || id != "portal" || secret != "s3cret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		op.mu.Lock()
		defer op.mu.Unlock()
		var nonce string
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			c, ok := op.codes[r.PostForm.Get("code")]
			delete(op.codes, r.PostForm.Get("code"))
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if !ok || b64url.EncodeToString(sum[:]) != c.challenge || r.PostForm.Get("redirect_uri") != c.redirect {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			nonce = c.nonce
		case "refresh_token":
			op.refreshN.Add(1)
			rt := r.PostForm.Get("refresh_token")
			if op.failNext != 0 || !op.refreshes[rt] {
				status := op.failNext
				if status == 0 {
					status = http.StatusBadRequest
				}
				op.failNext = 0
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			delete(op.refreshes, rt) // single use
		}
		at, rt := "at-"+randomToken(), "rt-"+randomToken()
		op.refreshes[rt] = true
		op.mu.Unlock()
		idt := op.idToken(nonce, at)
		op.mu.Lock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": op.atTTL,
			"refresh_token": rt, "id_token": idt, "scope": "openid profile email"})
	case "/userinfo":
		op.mu.Lock()
		ui := op.userinfo
		op.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ui)
	default:
		http.NotFound(w, r)
	}
}

// loginFixture is a gateway with browser sign-in against a fakeOP.
type loginFixture struct {
	op    *fakeOP
	clock *testutil.Clock
	store loginStore
	gw    *Gateway
	login *Login
}

func newLoginFixture(t testing.TB, edit func(*LoginConfig, *Config)) *loginFixture {
	t.Helper()
	clock := testutil.NewClock(gwNow)
	st := memory.New(memory.Options{Now: clock.Now})
	return newLoginFixtureOn(t, clock, st, newFakeOP(t, clock), edit)
}

var fixedSecret = []byte("0123456789abcdef0123456789abcdef")

// loginStore is what sign-in needs of an engine.
type loginStore interface {
	store.SessionStore
	store.ReplayStore
}

func newLoginFixtureOn(t testing.TB, clock *testutil.Clock, st loginStore, op *fakeOP, edit func(*LoginConfig, *Config)) *loginFixture {
	t.Helper()
	lc := LoginConfig{
		Issuer: fakeIss, Provider: op.endpoints,
		IDTokenKeys: func() (token.KeyResolver, error) { return op.keys, nil },
		ClientID:    "portal", ClientSecret: "s3cret",
		Sessions: st, Markers: st, Secret: func(context.Context) ([]byte, error) { return fixedSecret, nil },
		HTTPClient: op.Client(), Now: clock.Now,
	}
	_, keys := ecFixture(t)
	cfg := Config{Keys: staticKeys(keys), Now: clock.Now, Headers: []HeaderMapping{{Name: "X-User", Claim: "sub"}, {Name: "X-Email", Claim: "email"}}}
	if edit != nil {
		edit(&lc, &cfg)
	}
	l, err := NewLogin(lc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Login = l
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &loginFixture{op: op, clock: clock, store: st, gw: g, login: l}
}

// browserGet is a navigation from a browser with these cookies.
func browserGet(target string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// serve runs the module's order: own paths, Authorize, browser answers.
func (f *loginFixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	if f.login.Paths(r) {
		f.login.ServeHTTP(w, r)
		return w
	}
	d, e := f.gw.Authorize(r, loopback)
	switch {
	case e == nil:
		if d.SetCookie != "" {
			f.login.SetCookie(w, r, d.SetCookie)
		}
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "user=%s", r.Header.Get("X-User"))
	case (e.LoginRequired || e.Reason == ReasonNoToken) && f.login.Challenge(w, r):
	case e.Session && e.Status == http.StatusForbidden && BrowserNavigation(r):
		f.login.RenderForbidden(w, r)
	default:
		w.WriteHeader(e.Status)
		fmt.Fprint(w, e.Reason)
	}
	return w
}

// signIn runs a whole sign-in and returns the session cookie.
func (f *loginFixture) signIn(t testing.TB, path string) *http.Cookie {
	t.Helper()
	w := f.serve(browserGet("http://app.example" + path))
	if w.Code != http.StatusFound {
		t.Fatalf("no redirect to sign in: %d %s", w.Code, w.Body)
	}
	cb := f.op.authorize(t, w.Header().Get("Location"))
	attempt := findCookie(t, w, "_login_")
	w = f.serve(browserGet("http://app.example/_authgate/callback?"+cb.Encode(), attempt))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != path {
		t.Fatalf("callback: %d %s -> %q", w.Code, w.Body, w.Header().Get("Location"))
	}
	return findCookie(t, w, "authgate_session")
}

func findCookie(t testing.TB, w *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		match := c.Name == name || strings.HasSuffix(name, "_") && strings.Contains(c.Name, name)
		if match && c.MaxAge >= 0 && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no cookie %q in %v", name, w.Result().Cookies())
	return nil
}

var _ = time.Second
