package issuer

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTemplatesOverride(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "login.html"), []byte(`{{template "header" .}}<p id="custom">CUSTOM {{.Client}}</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="request" value="{{.Request}}"></form>{{template "footer" .}}`), 0o600)
	os.WriteFile(filepath.Join(dir, "style.css"), []byte("body{color:red}"), 0o600)
	e := newSignInEnv(t, func(c *Config) { c.Templates = dir })
	p := e.get(t, "/oauth/authorize?"+authzQuery(nil))
	if p.status != 200 || !strings.Contains(p.body, "CUSTOM Web App") || p.hidden("csrf") == "" || !strings.Contains(p.body, `lang="en"`) {
		t.Fatalf("custom login page: %d %s", p.status, p.body)
	}
	// The other pages stay embedded.
	if c := e.login(t, p, "alice", "alice-pw"); !strings.Contains(c.body, `value="allow"`) {
		t.Fatalf("consent page: %d", c.status)
	}
	rec := httptest.NewRecorder()
	e.iss.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth/assets/style.css", nil))
	if rec.Body.String() != "body{color:red}" {
		t.Fatalf("custom style: %q", rec.Body.String())
	}
	// A stale cache is impossible: the stylesheet's URL names its content.
	if !strings.Contains(p.body, "style.css?v="+e.iss.pages.cssHash) {
		t.Fatal("no versioned stylesheet URL")
	}
	rec = httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/oauth/assets/style.css", nil)
	r.Header.Set("If-None-Match", e.iss.pages.cssETag)
	e.iss.ServeHTTP(rec, r)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", rec.Code)
	}
}

func TestTemplatesErrors(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"unknown page": {"welcome.html": "hi"},
		"bad syntax":   {"login.html": "{{template"},
		"not a dir":    nil,
	} {
		dir := t.TempDir()
		for f, body := range files {
			os.WriteFile(filepath.Join(dir, f), []byte(body), 0o600)
		}
		if files == nil {
			dir = filepath.Join(dir, "missing")
		}
		cfg := baseConfig()
		cfg.Templates = dir
		if _, err := New(t.Context(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckPasswordHash(t *testing.T) {
	h, _ := HashPassword("x")
	if err := CheckPasswordHash(h); err != nil {
		t.Fatal(err)
	}
	if err := CheckPasswordHash(HashSecret("x")); err == nil {
		t.Fatal("a fast hash accepted as a password hash")
	}
}
