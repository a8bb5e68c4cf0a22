package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzCallbackParams: any query is either refused or yields a state that is
// a 256-bit token and exactly one of code and error, all within bounds; the
// callback never panics and never creates a session without a real attempt.
func FuzzCallbackParams(f *testing.F) {
	st := randomToken()
	for _, s := range []string{
		"state=" + st + "&code=abc", "state=" + st + "&error=access_denied&error_description=no",
		"state=" + st + "&state=" + st + "&code=x", "code=x", "state=%zz", "state=" + st + "&code=a;b", "",
		"state=" + st + "&code=" + strings.Repeat("c", maxCodeLen),
	} {
		f.Add(s)
	}
	fx := newLoginFixture(f, nil)
	f.Fuzz(func(t *testing.T, raw string) {
		p, ok := parseCallback(raw)
		if ok {
			if _, valid := decodeTicket(p.state); !valid {
				t.Fatalf("state %q accepted", p.state)
			}
			if (p.code == "") == (p.errCode == "") || len(p.code) > maxCodeLen || len(p.errDesc) > maxErrLen {
				t.Fatalf("accepted %+v", p)
			}
		}
		r := httptest.NewRequest(http.MethodGet, "http://app.example/_authgate/callback", nil)
		r.URL.RawQuery = raw
		w := httptest.NewRecorder()
		fx.login.ServeHTTP(w, r)
		if w.Code == http.StatusSeeOther {
			t.Fatalf("a callback without an attempt cookie succeeded: %q", raw)
		}
	})
}

// FuzzSessionCookie: any cookie value, in either session mode, is refused
// (401, login required) unless it is a real session; nothing panics.
func FuzzSessionCookie(f *testing.F) {
	store := newLoginFixture(f, nil)
	cookie := newLoginFixture(f, func(lc *LoginConfig, _ *Config) { lc.CookieSessions = true })
	real := store.signIn(f, "/")
	realCookie := cookie.signIn(f, "/")
	_ = realCookie
	for _, s := range []string{real.Value, realCookie.Value, "", "x", randomToken(), real.Value[:42] + "B", realCookie.Value[:len(realCookie.Value)-2], "\"" + real.Value + "\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, fx := range []*loginFixture{store, cookie} {
			r := httptest.NewRequest(http.MethodGet, "http://app.example/api", nil)
			r.Header.Set("Cookie", "authgate_session="+v)
			d, e := fx.gw.Authorize(r, loopback)
			if e == nil {
				// Accepted: the store's own ticket, or a cookie sealed with
				// our secret (the fuzz workers share the fixed test secret,
				// so a seed sealed by another process is authentic too).
				tv := strings.Trim(v, `"`)
				if fx == store && tv != real.Value {
					t.Fatalf("ticket %q accepted as %v", v, d.Claims.Subject)
				}
				if fx == cookie {
					if _, err := cookie.login.openCookie(r.Context(), tv); err != nil {
						t.Fatalf("cookie %q accepted as %v but does not open: %v", v, d.Claims.Subject, err)
					}
				}
				continue
			}
			if e.Status != http.StatusUnauthorized || !e.LoginRequired {
				t.Fatalf("cookie %q: %d %s", v, e.Status, e.Reason)
			}
		}
	})
}

var _ = url.Values{}
