package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authgate/caddy-authgate/internal/testutil/browser"
)

// The in-process sign-in test: ports 9610 (Caddy: our issuer and the
// gateway on one site) and 9612 (the upstream).
const (
	lgOwnSite     = "http://localhost:9610"
	lgOwnUpstream = "127.0.0.1:9612"
	// lgOwnAccessTTL is the issuer's access token lifetime.
	lgOwnAccessTTL = 2 * time.Second
)

func lgOwnCaddyfile(t *testing.T) string {
	hash := func(pw string) string { return siHash(t, pw) }
	return fmt.Sprintf(`{
	admin localhost:2999
	skip_install_trust
	auto_https off
	http_port 9610
	authgate {
		storage bolt %s
	}
}
http://localhost:9610 {
	authgate_issuer {
		issuer %s
		access_token_ttl %s
		user alice {
			password_hash %s
			claim email alice@example.com
			claim name "Alice Example"
		}
		user bob {
			password_hash %s
			claim email bob@example.com
		}
		client portal {
			secret portal-secret-long-enough
			redirect_uri %s/_authgate/callback
			post_logout_redirect_uri %s/bye
			grant_types authorization_code refresh_token
			scopes openid profile email
			skip_consent
		}
	}
	handle /bye {
		respond "signed out" 200
	}
	handle {
		authgate {
			login %s {
				client_id portal
				client_secret portal-secret-long-enough
				post_logout_redirect %s/bye
			}
			claim email alice@example.com
			header X-User sub
			header X-Email email
			pass_access_token
		}
		reverse_proxy %s
	}
}`, filepath.Join(t.TempDir(), "authgate.db"), lgOwnSite, lgOwnAccessTTL, hash("alice-pw"), hash("bob-pw"),
		lgOwnSite, lgOwnSite, lgOwnSite, lgOwnSite, lgOwnUpstream)
}

// TestLoginOwnIssuerInChromium: `login` naming an authgate_issuer of the
// same Caddy; ID tokens are verified with the issuer's keys in-process.
func TestLoginOwnIssuerInChromium(t *testing.T) {
	t.Parallel()
	browser.Require(t)
	up := lgNewUpstream(t, lgOwnUpstream)
	browser.Start(t, browser.Options{}) // after the upstream: stopped before it
	holdInProcessCaddy(t)
	issStart(t, lgOwnCaddyfile(t))
	ctx := browser.New(t, browser.Options{Timeout: 60 * time.Second})
	lgSetExtraHeaders(t, ctx, map[string]string{"X-User": "root"})
	lgDo(t, ctx, "open the app", chromedp.Navigate(lgOwnSite+"/orders?id=7"), chromedp.WaitVisible(`input[name=username]`))
	lgDo(t, ctx, "sign in", chromedp.SendKeys(`#username`, "alice"), chromedp.SendKeys(`#password`, "alice-pw"), chromedp.Click(`button[type=submit]`))
	lgWaitAt(t, ctx, lgOwnSite+"/orders", "#user")
	if u, e := lgText(t, ctx, "#user"), lgText(t, ctx, "#email"); u != "alice" || e != "alice@example.com" {
		t.Fatalf("app saw %q %q", u, e)
	}
	if got := up.last(t).Values("X-User"); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("upstream X-User %q (the browser sent a forged root)", got)
	}
	first := up.last(t).Get("Authorization")
	if !strings.HasPrefix(first, "Bearer ") {
		t.Fatalf("no access token upstream: %q", first)
	}

	// The issuer's access token runs out; the session refreshes it.
	lgPastExpiry(lgOwnAccessTTL)
	lgDo(t, ctx, "after expiry", chromedp.Navigate(lgOwnSite+"/later"))
	lgWaitAt(t, ctx, lgOwnSite+"/later", "#user")
	if u := lgText(t, ctx, "#user"); u != "alice" {
		t.Fatalf("after expiry %q", u)
	}
	if second := up.last(t).Get("Authorization"); second == first || !strings.HasPrefix(second, "Bearer ") {
		t.Fatal("the access token was not refreshed")
	}
	cookie := lgCookie(t, ctx, lgOwnSite, "authgate_session")

	// Logout ends the session here and at the issuer.
	lgDo(t, ctx, "logout", chromedp.Navigate(lgOwnSite+"/_authgate/logout"))
	// The id_token_hint names the signed-in person: our issuer signs out
	// at once and sends the browser to post_logout_redirect.
	lgLoggedOut(t, ctx, lgOwnSite, cookie)

	// Two tabs signing in at once.
	ctx3 := browser.New(t, browser.Options{Timeout: 60 * time.Second})
	tab2, cancel := chromedp.NewContext(ctx3)
	defer cancel()
	lgDo(t, ctx3, "tab 1", chromedp.Navigate(lgOwnSite+"/tab-one"), chromedp.WaitVisible(`input[name=username]`))
	lgDo(t, tab2, "tab 2", chromedp.Navigate(lgOwnSite+"/tab-two"), chromedp.WaitVisible(`input[name=username]`))
	for i, tab := range []context.Context{ctx3, tab2} {
		lgDo(t, tab, "sign in", chromedp.SendKeys(`#username`, "alice"), chromedp.SendKeys(`#password`, "alice-pw"), chromedp.Click(`button[type=submit]`))
		path := []string{"/tab-one", "/tab-two"}[i]
		lgWaitAt(t, tab, lgOwnSite+path, "#user")
		if got := lgText(t, tab, "#path"); got != path {
			t.Fatalf("tab %d at %q", i+1, got)
		}
	}

	// bob's email is not the one the rule wants: the 403 page.
	ctx2 := browser.New(t, browser.Options{Timeout: 60 * time.Second})
	lgDo(t, ctx2, "open the app", chromedp.Navigate(lgOwnSite+"/x"), chromedp.WaitVisible(`input[name=username]`))
	lgDo(t, ctx2, "sign in", chromedp.SendKeys(`#username`, "bob"), chromedp.SendKeys(`#password`, "bob-pw"), chromedp.Click(`button[type=submit]`))
	lgWaitAt(t, ctx2, lgOwnSite+"/x", "p.status")
	if h := lgText(t, ctx2, "h1"); h != "Access denied" {
		t.Fatalf("heading %q", h)
	}
}
