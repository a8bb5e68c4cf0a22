package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/authgate/caddy-authgate/internal/testutil/browser"
)

// The README's demo: Caddyfile.example as shipped (only the test admin
// endpoint and a temporary store added) lets a newcomer open the legacy web
// app in a real browser, sign in as the demo user, see the app greet them by
// the identity the gateway forwards, and sign out again.
func TestDemoBrowserSignIn(t *testing.T) {
	t.Parallel()
	browser.Start(t, browser.Options{Lang: "en-US", Width: 640, Height: 640})
	holdInProcessCaddy(t)
	raw, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "authgate.db")
	global := "{\n\tauto_https off\n}"
	if !strings.Contains(string(raw), global) {
		t.Fatalf("Caddyfile.example no longer starts with %q: update this test", global)
	}
	cfg := strings.Replace(string(raw), global, "{\n\tadmin localhost:2999\n\tauto_https off\n\tauthgate {\n\t\tstorage bolt "+db+"\n\t}\n}", 1)
	issStart(t, cfg)

	ctx := browser.New(t, browser.Options{Lang: "en-US", Width: 640, Height: 640})
	signIn := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate("http://localhost:8081/"), chromedp.WaitVisible(`input[name=username]`),
			chromedp.SendKeys(`#username`, "demo"), chromedp.SendKeys(`#password`, "demo-password"),
			chromedp.Click(`button[type=submit]`), chromedp.WaitVisible(`button[value=allow]`),
			// The app answers text/plain, which Chromium shows in a <pre>
			// (the consent page has none).
			chromedp.Click(`button[value=allow]`), chromedp.WaitVisible(`pre`)); err != nil {
			t.Fatal(err)
		}
	}
	signIn()
	greeting := func() string {
		t.Helper()
		text, err := chromedp.Run(ctx, chromedp.Text(`pre`))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	if got := greeting(); !strings.Contains(got, "Hello demo (demo@example.com): you are signed in.") {
		t.Fatalf("after sign-in the app shows %q", got)
	}
	// Signed out (a typed URL is a same-site GET), the app asks again.
	if err := chromedp.Do(ctx, chromedp.Navigate("http://localhost:8081/_authgate/logout"), chromedp.WaitReady(`body`),
		chromedp.Navigate("http://localhost:8081/"), chromedp.WaitVisible(`input[name=username]`)); err != nil {
		t.Fatalf("after logout: %v", err)
	}
}
