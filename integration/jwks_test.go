package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/authgate/caddy-authgate"
)

// A provider rotates its signing key twice while four clients keep sending
// requests. Every token signed by a key that is published for the whole life
// of the request must be accepted; once the gateway has re-fetched after a
// key was dropped, tokens signed by that key (fresh ones, and ones already in
// the verified-token cache) are refused.
//
// refresh_min 1s is accepted (jwkscache has no floor; Validate only rejects
// negative values and min > max), so with `max-age=1` the gateway refreshes
// about every second and also re-fetches on unknown kids (refetch_interval 1s).
// The provider answers 150ms after reading its key set, like a real network
// round trip, and the first rotation is published while a refresh is in
// flight: that refresh still returns the old set.
func TestJWKSRotationUnderTraffic(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2901)
	const port = 9301
	k1, k2, k3 := jwNewKey(t, "rot-1"), jwNewKey(t, "rot-2"), jwNewKey(t, "rot-3")
	idp := jwNewProvider(t, 1, k1)
	idp.SetDelay(150 * time.Millisecond)

	startChildCaddy(t, 2901, jwCaddyfile(port, jwJWKSBlock(idp.JWKSURL(), "\t\t\trefresh_min 1s\n\t\t\trefetch_interval 1s"), "ok"))
	site := fmt.Sprintf("http://127.0.0.1:%d/", port)
	c := jwClient()
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k1, "warmup")), "ok", "warmup")

	var active atomic.Pointer[jwKey]
	active.Store(k1)
	var (
		ok, wrongBody, droppedRefusals atomic.Int64
		mu                             sync.Mutex
		rejected                       []string
		reused                         = map[string]string{} // kid -> a token reused by worker 0 and 1
	)
	reusedToken := func(k *jwKey) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if tok, ok := reused[k.kid]; ok {
			return tok, nil
		}
		tok, err := jwSign(k, k.kid, jwClaims(jwIssuer, "reused-"+k.kid))
		reused[k.kid] = tok
		return tok, err
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				k := active.Load()
				if !idp.Published(k.kid) {
					t.Errorf("worker %d: active key %s is not published", w, k.kid)
					return
				}
				sub := fmt.Sprintf("w%d-%d", w, n)
				var tok string
				var err error
				if w < 2 && n%2 == 0 { // half of workers 0 and 1: the same token per key (verified-token cache hits)
					sub = "reused-" + k.kid
					tok, err = reusedToken(k)
				} else {
					tok, err = jwSign(k, k.kid, jwClaims(jwIssuer, sub))
				}
				if err != nil {
					t.Errorf("sign: %v", err)
					return
				}
				r, err := jwGet(c, site, tok)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				switch {
				case r.status == http.StatusOK && r.body == "ok "+sub:
					ok.Add(1)
				case r.status == http.StatusOK:
					wrongBody.Add(1)
				case idp.Published(k.kid):
					// Published before signing and still published now:
					// it was published for the request's whole life.
					mu.Lock()
					rejected = append(rejected, fmt.Sprintf("%s kid=%s: %d %s (WWW-Authenticate %q)",
						time.Now().Format("15:04:05.000"), k.kid, r.status, r.body, r.header.Get("WWW-Authenticate")))
					mu.Unlock()
				default:
					droppedRefusals.Add(1) // dropped while in flight: refusing is right
				}
				// Paced: unpaced, the four workers sent about 18000
				// requests (10 s of CPU on two cores). What the assertions
				// need is requests at every moment of the rotations: at
				// about 4 x 250 a second there are still dozens in each
				// 150ms fetch and thousands in all (>= 100 are required).
				time.Sleep(4 * time.Millisecond)
			}
		})
	}

	rotate := func(old, next *jwKey, aligned bool) (dropHits int) {
		if aligned {
			n := idp.NextFetch(t, 5*time.Second)
			t.Logf("rotation to %s published during fetch #%d", next.kid, n)
		}
		idp.publish(old, next)
		active.Store(next)
		time.Sleep(1500 * time.Millisecond)
		dropHits = idp.publish(next)
		t.Logf("%s dropped after %d fetches", old.kid, dropHits)
		return dropHits
	}
	drop1 := rotate(k1, k2, true) // waits for the next routine refresh: fetch #2 or later
	time.Sleep(time.Second)
	drop2 := rotate(k2, k3, false)
	time.Sleep(time.Second)
	stop()
	wg.Wait()

	t.Logf("traffic: %d accepted, %d refused after their key was dropped, %d rejected while valid, %d wrong bodies; %d JWKS fetches",
		ok.Load(), droppedRefusals.Load(), len(rejected), wrongBody.Load(), idp.Hits())
	if len(rejected) > 0 {
		shown := min(len(rejected), 10)
		t.Errorf("%d requests with a valid token were rejected; first %d:\n%s", len(rejected), shown, strings.Join(rejected[:shown], "\n"))
	}
	if wrongBody.Load() > 0 {
		t.Errorf("%d accepted requests did not carry the caller's identity upstream", wrongBody.Load())
	}
	if ok.Load() < 100 {
		t.Errorf("only %d requests accepted: not enough traffic to prove anything", ok.Load())
	}
	if drop1 < 2 {
		t.Errorf("only %d fetches before the first drop: the gateway did not refresh", drop1)
	}

	// Fetch drop+1 started after the drop; fetch drop+2 starts only after
	// the gateway installed the result of drop+1 (one fetch at a time).
	idp.waitHits(t, drop2+2, 10*time.Second)
	for _, k := range []*jwKey{k1, k2} {
		reusedTok, err := reusedToken(k)
		if err != nil {
			t.Fatal(err)
		}
		jwWantInvalidToken(t, jwMustGet(t, c, site, reusedTok), "cached token of dropped key "+k.kid)
		jwWantInvalidToken(t, jwMustGet(t, c, site, jwToken(t, k, "late-"+k.kid)), "fresh token of dropped key "+k.kid)
	}
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k3, "after")), "ok", "after")
}

// A token with a kid the gateway has never seen costs exactly one fetch;
// a flood of random unknown kids within one refetch interval costs at most
// one more, and each gets 401 invalid_token.
func TestJWKSNewKidFetchedOnce(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2902)
	const port = 9302
	const refetch = time.Second // the smallest refetch_interval; the flood takes milliseconds
	k1, k2 := jwNewKey(t, "new-1"), jwNewKey(t, "new-2")
	idp := jwNewProvider(t, 3600, k1) // no routine refresh during the test

	startChildCaddy(t, 2902, jwCaddyfile(port, jwJWKSBlock(idp.JWKSURL(), "\t\t\trefetch_interval 1s"), "ok"))
	site := fmt.Sprintf("http://127.0.0.1:%d/", port)
	c := jwClient()
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k1, "alice")), "ok", "alice")
	if h := idp.Hits(); h != 1 {
		t.Fatalf("JWKS fetches after start and one request: %d, want 1", h)
	}

	idp.publish(k1, k2)
	newKid := time.Now()
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k2, "bob")), "ok", "bob")
	if h := idp.Hits(); h != 2 {
		t.Fatalf("JWKS fetches after the first token with a new kid: %d, want 2", h)
	}
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k2, "carol")), "ok", "carol")
	if h := idp.Hits(); h != 2 {
		t.Fatalf("JWKS fetches after a second token with the now known kid: %d, want 2", h)
	}

	// Let the rate limit of the new-kid re-fetch lapse, so that the flood
	// may cause (exactly) one fetch of its own.
	time.Sleep(time.Until(newKid.Add(refetch + 100*time.Millisecond)))
	before := idp.Hits()
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	jobs := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range jobs {
				tok, err := jwSign(k2, "random-"+jwRandHex(6), jwClaims(jwIssuer, fmt.Sprint("flood-", i)))
				if err != nil {
					t.Error(err)
					continue
				}
				r, err := jwGet(c, site, tok)
				switch {
				case err != nil:
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
				case r.status != http.StatusUnauthorized || !jwHasInvalidToken(r.header):
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%d %q WWW-Authenticate=%q", r.status, r.body, r.header.Get("WWW-Authenticate")))
					mu.Unlock()
				}
			}
		})
	}
	for i := range 200 {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	took := time.Since(start)
	if len(bad) > 0 {
		t.Errorf("%d of 200 unknown-kid requests were not 401 invalid_token; first: %s", len(bad), bad[0])
	}
	extra := idp.Hits() - before
	t.Logf("200 unknown-kid requests in %s caused %d fetch(es)", took.Round(time.Millisecond), extra)
	// At most one fetch per refetch interval begun during the flood (one,
	// unless a loaded machine, e.g. under -race beside other tests, stretches
	// the flood past the interval).
	if allowed := int(took/refetch) + 1; extra > allowed {
		t.Errorf("200 unknown-kid requests in %s caused %d fetches, want at most %d (one per refetch interval %s)", took, extra, allowed, refetch)
	}

	// Known keys are unaffected.
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k1, "dave")), "ok", "dave")
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k2, "erin")), "ok", "erin")
}

func jwHasInvalidToken(h http.Header) bool {
	return strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`)
}

// The provider fails after a successful fetch: the gateway keeps refreshing
// (and failing) in the background, and the cached keys keep verifying fresh
// tokens. A kid it cannot look up is refused with 503, never accepted.
func TestJWKSProviderDown(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2903)
	const port = 9303
	k1 := jwNewKey(t, "down-1")
	idp := jwNewProvider(t, 1, k1)

	startChildCaddy(t, 2903, jwCaddyfile(port, jwJWKSBlock(idp.JWKSURL(), "\t\t\trefresh_min 1s\n\t\t\trefetch_interval 1s"), "ok"))
	site := fmt.Sprintf("http://127.0.0.1:%d/", port)
	c := jwClient()
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k1, "before")), "ok", "before")

	// Traffic until two background fetches have failed (about 2s: one
	// refresh, one retry), and one request round after that.
	downAt := idp.SetStatus(http.StatusInternalServerError)
	deadline := time.Now().Add(10 * time.Second)
	n := 0
	for ; ; n++ {
		done := idp.Hits()-downAt >= 2 || time.Now().After(deadline)
		sub := fmt.Sprint("during-", n) // a fresh token each time: no verified-token cache hit
		jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k1, sub)), "ok", sub)
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	failed := idp.Hits() - downAt
	t.Logf("%d requests accepted while the provider answered 500 to %d fetches", n, failed)
	if failed < 2 {
		t.Fatalf("only %d fetches during the outage: the cached set was not put to the test", failed)
	}

	unknown := jwNewKey(t, "down-unknown")
	jwWant503(t, jwMustGet(t, c, site, jwToken(t, unknown, "mallory")), "unknown kid while the provider is down")
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k1, "still")), "ok", "still")
}

// A key set that was never fetched fails closed: 503 with Retry-After,
// whether the provider answers 500 or nobody listens.
func TestJWKSNeverFetched503(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2904)
	const port = 9304
	k1 := jwNewKey(t, "never-1")
	idp := jwNewProvider(t, 60, k1)
	idp.SetStatus(http.StatusInternalServerError)
	closed := jwClosedURL(t)

	cfg := fmt.Sprintf(`{
	skip_install_trust
	admin localhost:2999
	http_port %[1]d
	auto_https off
}
http://127.0.0.1:%[1]d {
	handle /failing/* {
		authgate {
%[2]s
		}
		respond "ok" 200
	}
	handle /closed/* {
		authgate {
%[3]s
		}
		respond "ok" 200
	}
}
`, port, jwJWKSBlock(idp.JWKSURL(), ""), jwJWKSBlock(closed, "\t\t\ttimeout 2s"))
	startChildCaddy(t, 2904, cfg)
	c := jwClient()
	t.Run("paths", func(t *testing.T) { // both at once: they wait on different sources
		for _, path := range []string{"/failing/", "/closed/"} {
			t.Run(path, func(t *testing.T) {
				t.Parallel()
				for i := range 5 {
					r := jwMustGet(t, c, fmt.Sprintf("http://127.0.0.1:%d%sx", port, path), jwToken(t, k1, fmt.Sprint("u", i)))
					jwWant503(t, r, fmt.Sprintf("request %d", i))
					if i == 0 {
						t.Logf("Retry-After: %s", r.header.Get("Retry-After"))
					}
					time.Sleep(200 * time.Millisecond)
				}
			})
		}
	})
	if h := idp.Hits(); h < 1 {
		t.Errorf("the failing provider was never asked (%d fetches)", h)
	}
}

// A reload with the same JWKS URL and options keeps the process-wide cache:
// no fetch, and the new config serves at once.
func TestJWKSReloadKeepsCache(t *testing.T) {
	useInProcessCaddy(t)
	const port = 9305
	k1 := jwNewKey(t, "reload-1")
	idp := jwNewProvider(t, 3600, k1)
	block := jwJWKSBlock(idp.JWKSURL(), "\t\t\trefetch_interval 5s")
	site := fmt.Sprintf("http://127.0.0.1:%d/", port)
	c := jwClient()

	jwStart(t, jwCaddyfile(port, block, "first"))
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k1, "alice")), "first", "alice")
	if h := idp.Hits(); h != 1 {
		t.Fatalf("JWKS fetches after the first config's request: %d, want 1", h)
	}

	jwStart(t, jwCaddyfile(port, block, "second"))
	jwWantOK(t, jwMustGet(t, c, site, jwToken(t, k1, "bob")), "second", "bob") // fresh token: verified with the cached set
	time.Sleep(300 * time.Millisecond)                                         // a fetch started by the reload would show by now
	if h := idp.Hits(); h != 1 {
		t.Fatalf("JWKS fetches after a reload with the same jwks: %d, want 1 (the cache was not kept)", h)
	}
}

// `caddy validate` provisions every module but must not contact key sets or
// discovery endpoints.
func TestJWKSValidateFetchesNothing(t *testing.T) {
	t.Parallel() // `caddy validate` in a child Caddy, which fetches nothing in this process either
	k1 := jwNewKey(t, "validate-1")
	idp := jwNewProvider(t, 60, k1)
	idp.serveDiscovery()
	other := jwNewProvider(t, 60, k1)
	other.serveDiscovery()

	caddyfile := fmt.Sprintf(`{
	skip_install_trust
	http_port 9306
	auto_https off
}
http://127.0.0.1:9306 {
	handle /jwks/* {
		authgate {
%s
		}
		respond "ok"
	}
	handle /discovery/* {
		authgate {
			issuer %s
		}
		respond "ok"
	}
}
`, jwJWKSBlock(idp.JWKSURL(), "\t\t\trefresh_min 1s"), other.URL)
	if err := childCaddyValidate(t, adaptCaddyfile(t, caddyfile)); err != nil {
		t.Fatalf("validate: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // anything started in the background would have fetched by now
	if h, m, oh, om := idp.Hits(), idp.MetadataHits(), other.Hits(), other.MetadataHits(); h+m+oh+om != 0 {
		t.Fatalf("caddy validate fetched: jwks server %d JWKS + %d metadata, discovery server %d JWKS + %d metadata", h, m, oh, om)
	}
}

// An issuer without jwks or key: its keys come from OpenID discovery. Its
// tokens are accepted; a token naming another issuer is refused, as is one
// with the right issuer but a key the provider never published.
func TestDiscoveryIssuer(t *testing.T) {
	useInProcessCaddy(t)
	const port = 9307
	k1 := jwNewKey(t, "disc-1")
	idp := jwNewProvider(t, 3600, k1)
	idp.serveDiscovery()

	jwStart(t, jwCaddyfile(port, fmt.Sprintf("\t\tissuer %s\n\t\taudience %s", idp.URL, jwAudience), "ok"))
	site := fmt.Sprintf("http://127.0.0.1:%d/", port)
	c := jwClient()

	sign := func(k *jwKey, iss, sub string) string {
		tok, err := jwSign(k, k.kid, jwClaims(iss, sub))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	jwWantOK(t, jwMustGet(t, c, site, sign(k1, idp.URL, "alice")), "ok", "alice")
	if idp.MetadataHits() < 1 || idp.Hits() < 1 {
		t.Fatalf("discovery fetched metadata %d times and JWKS %d times", idp.MetadataHits(), idp.Hits())
	}
	jwWantInvalidToken(t, jwMustGet(t, c, site, sign(k1, "https://other.example", "bob")), "token from another issuer")
	jwWantInvalidToken(t, jwMustGet(t, c, site, sign(k1, idp.URL+"/", "bob")), "issuer with a trailing slash")
	forged := &jwKey{kid: k1.kid, priv: jwNewKey(t, "x").priv}
	jwWantInvalidToken(t, jwMustGet(t, c, site, sign(forged, idp.URL, "mallory")), "right issuer, unpublished key")
}
