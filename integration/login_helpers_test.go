package integration

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// lgUpstream is the legacy app behind a sign-in route, on a fixed port: it
// records every request's headers and shows the identity headers it got,
// so the browser test reads what the app saw.
type lgUpstream struct {
	*httptest.Server
	headerLog
}

func lgNewUpstream(t *testing.T, addr string) *lgUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("upstream %s: %v", addr, err)
	}
	u := &lgUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.record(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// The icon link keeps Chromium from asking for /favicon.ico: no
		// request of the test's own comes after the page (one could refresh
		// a session while a test counts refreshes).
		fmt.Fprintf(w, `<!doctype html><title>legacy app</title><link rel="icon" href="data:,"><h1>Legacy app</h1>
<p>path <span id="path">%s</span></p><p>user <span id="user">%s</span></p><p>email <span id="email">%s</span></p>
<p>authorization <span id="authz">%s</span></p><p>cookie <span id="cookie">%s</span></p>`,
			html.EscapeString(r.URL.RequestURI()), html.EscapeString(strings.Join(r.Header.Values("X-User"), "|")),
			html.EscapeString(strings.Join(r.Header.Values("X-Email"), "|")),
			html.EscapeString(strings.SplitN(r.Header.Get("Authorization"), " ", 2)[0]), html.EscapeString(r.Header.Get("Cookie")))
	}))
	u.Listener.Close()
	u.Listener = ln
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// lgDo runs chromedp steps or fails the test.
func lgDo(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.OuterHTML("body"))
		if len(body) > 1500 {
			body = body[:1500]
		}
		t.Fatalf("%s: %v (at %s)\n%s", what, err, loc, body)
	}
}

func lgText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text %s: %v", sel, err)
	}
	return s
}

func lgLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lgProviderSignIn fills oidc-provider's devInteractions login form, then
// its consent form.
func lgProviderSignIn(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	lgDo(t, ctx, "provider login form",
		chromedp.WaitVisible(`input[name=login]`),
		chromedp.SendKeys(`input[name=login]`, user),
		chromedp.SendKeys(`input[name=password]`, "any password"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitReady(`input[name=prompt][value=consent]`),
		chromedp.Click(`button[type=submit]`),
	)
}

// lgSetExtraHeaders makes the browser send headers on every request (a
// forged identity, say).
func lgSetExtraHeaders(t *testing.T, ctx context.Context, h map[string]string) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		if _, err := cdp.Call(ctx, target, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		hs := network.Headers{}
		for k, v := range h {
			hs[k] = v
		}
		_, err := cdp.Call(ctx, target, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: hs})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
}

// lgCookie returns the browser's cookie of that name for url.
func lgCookie(t *testing.T, ctx context.Context, url, name string) string {
	t.Helper()
	var value string
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		res, err := cdp.Call(ctx, target, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		if err != nil {
			return err
		}
		for _, c := range res.Cookies {
			if c.Name == name {
				value = c.Value
			}
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return value
}

// lgWaitAt waits until the tab's page is at a URL with this prefix and its
// document is loaded, then until sel is visible. Waiting for an element
// while a redirect chain is still in flight can match the page being left.
func lgWaitAt(t *testing.T, ctx context.Context, prefix, sel string) {
	t.Helper()
	for i := 0; ; i++ {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && strings.HasPrefix(loc, prefix) {
			state, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.readyState"))
			if err == nil && state == "complete" {
				found, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", sel)))
				if !found {
					body, _ := chromedp.Run(ctx, chromedp.Text("body"))
					t.Fatalf("page %s has no %s: %.500s", loc, sel, body)
				}
				break
			}
		}
		if i == 400 {
			body, _ := chromedp.Run(ctx, chromedp.Text("body"))
			t.Fatalf("page never reached %s (at %s, %v): %.500s", prefix, loc, err, body)
		}
		time.Sleep(50 * time.Millisecond) // polling the browser's navigation, not a timer
	}
	lgDo(t, ctx, "wait for "+sel, chromedp.WaitVisible(sel))
}

// lgPastExpiry waits until every access token that a gateway obtained up
// to now with a lifetime of ttl (whole seconds) has expired, on the gateway's
// clock and on the provider's: both count expiry in whole seconds from at
// most now, so all of them expire by now's whole second + ttl. It waits 50 ms
// past that second, so the refresh that follows gets a token with nearly all
// of its lifetime ahead. (The providers' clocks cannot be injected: their
// tokens' lifetimes are waited out, and kept short.)
func lgPastExpiry(ttl time.Duration) {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(ttl + 50*time.Millisecond)))
}

// lgLoggedOut waits for the browser to land on site's /bye after logout,
// then checks that the session's old cookie no longer works (401).
func lgLoggedOut(t *testing.T, ctx context.Context, site, cookie string) {
	t.Helper()
	for i := 0; i < 100 && !strings.HasPrefix(lgLocation(t, ctx), site+"/bye"); i++ {
		time.Sleep(50 * time.Millisecond) // the redirect chain is in flight
	}
	if loc := lgLocation(t, ctx); !strings.HasPrefix(loc, site+"/bye") {
		t.Fatalf("after logout at %s", loc)
	}
	req, _ := http.NewRequest("GET", site+"/api/x", nil)
	req.Header.Set("Cookie", "authgate_session="+cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the ended session's cookie still works: %d", resp.StatusCode)
	}
}
