package module

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

// A user name reaches the admin API through the admin endpoint's router
// (an http.ServeMux, as in Caddy) as one segment, dots-only names too
// (unescaped, ".." was cleaned away: the CLI could not show or delete such
// a user).
func TestCLIUserPathSegment(t *testing.T) {
	mux := http.NewServeMux()
	var got string
	mux.HandleFunc(issuer.AdminPrefix, func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path })
	for _, name := range []string{"alice", "a/b", "..", ".", "...", "a..", "x y%"} {
		got = ""
		p := issuer.AdminPrefix + "issuers/x/users/" + pathSegment(name)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodDelete, p, nil))
		if want := issuer.AdminPrefix + "issuers/x/users/" + name; w.Code != 200 || got != want {
			t.Errorf("%q: %d, handler saw %q, want %q", name, w.Code, got, want)
		}
	}
}
