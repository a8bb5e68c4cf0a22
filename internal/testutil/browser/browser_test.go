package browser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// The launcher drives a real Chromium: it loads a page, reads what the
// page shows, sends the Accept-Language asked for, and takes a PNG.
func TestBrowserLoadsAPage(t *testing.T) {
	var gotLang string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotLang = r.Header.Get("Accept-Language")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>t</title><h1 id="h">こんにちは</h1>`))
	}))
	defer srv.Close()
	ctx := New(t, Options{Lang: "ja"})
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text("#h"))
	if err != nil {
		t.Fatal(err)
	}
	if text != "こんにちは" {
		t.Fatalf("page text %q", text)
	}
	if gotLang == "" || gotLang[:2] != "ja" {
		t.Fatalf("Accept-Language %q, want ja", gotLang)
	}
	png := filepath.Join(t.TempDir(), "sub", "page.png")
	Screenshot(t, ctx, png)
	if b, err := os.ReadFile(png); err != nil || len(b) < 100 || string(b[1:4]) != "PNG" {
		t.Fatalf("screenshot: %d bytes, err %v", len(b), err)
	}
}

// Two New calls of one test share the Chromium process (started by Start)
// but nothing else: a cookie set in one is not sent by the other, nor by a
// subtest's.
func TestNewContextsShareNoCookies(t *testing.T) {
	Start(t, Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "who", Value: "first", Path: "/"})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>t</title><p id="c">[` + r.Header.Get("Cookie") + `]</p>`))
	}))
	defer srv.Close()
	cookie := func(ctx context.Context) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/get")); err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text("#c"))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	first := New(t, Options{})
	if err := chromedp.Do(first, chromedp.Navigate(srv.URL+"/set")); err != nil {
		t.Fatal(err)
	}
	if got := cookie(first); got != "[who=first]" {
		t.Fatalf("first context sends %s, want its cookie", got)
	}
	if got := cookie(New(t, Options{})); got != "[]" {
		t.Fatalf("second context sends %s, want no cookie", got)
	}
	t.Run("subtest", func(t *testing.T) {
		if got := cookie(New(t, Options{})); got != "[]" {
			t.Fatalf("a subtest's context sends %s, want no cookie", got)
		}
	})
	if got := cookie(first); got != "[who=first]" {
		t.Fatalf("first context after the others sends %s", got)
	}
}
