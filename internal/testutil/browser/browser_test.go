package browser

import (
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
