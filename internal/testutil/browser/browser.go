// Package browser starts a real headless Chromium (Debian's `chromium`)
// for end-to-end tests of pages and browser flows, driven through
// github.com/chromedp/chromedp.
//
//	ctx := browser.New(t, browser.Options{Lang: "ja"})
//	err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(`input[name=username]`))
//	title, err := chromedp.Run(ctx, chromedp.Title())
//
// (chromedp v0.23's generic API: Do runs steps, Run returns one value.)
//
//	browser.Screenshot(t, ctx, "docs/screenshots/login-ja.png")
//
// Each New is a tab with a fresh profile of its own (no cookies, storage or
// cache shared between calls), closed on t.Cleanup. The calls of one test
// and its subtests share one Chromium process (one per Lang and size): the
// first starts it with a new user data directory and gets its first tab, and
// it stops when the test that made that call ends; each later call gets a
// new browser context of it (Chromium's incognito-like profile), which costs
// no Chromium start-up. Start launches that process before the first New,
// e.g. while a test waits for something else. Where no Chromium is
// installed the test is skipped with a message naming the package, except
// under CI=true, where it fails: nothing is skipped silently where it
// counts. Set CHROMIUM to use another binary.
package browser

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// Options tune New.
type Options struct {
	// Lang is the Accept-Language the browser sends (e.g. "ja", "en-US");
	// default "en-US".
	Lang string
	// Width and Height are the viewport in CSS pixels; default 900x700.
	Width, Height int64
	// Timeout bounds everything run in the returned context; default 60s.
	Timeout time.Duration
}

// Path returns the Chromium binary New uses, or "" when there is none.
func Path() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Require skips the test (fails it under CI=true) when no Chromium is
// installed.
func Require(t testing.TB) string {
	t.Helper()
	testutil.SkipIfShort(t, "run Chromium")
	p := Path()
	if p == "" {
		msg := "no Chromium: install Debian's `chromium` package (apt-get install chromium) or set CHROMIUM"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// New returns a chromedp context for a new tab with a profile of its own in
// a headless Chromium (started now or shared, see the package comment),
// closed when the test ends.
func New(t testing.TB, o Options) context.Context {
	t.Helper()
	bin := Require(t)
	o = withDefaults(o)
	ctx := tab(t, bin, o)
	// Accept-Language for every request, whatever the flags do. This run
	// can create the tab, so its context has no timeout (a timeout on it
	// would close the tab, or stop the browser with its first tab).
	setLang := chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36 authgate-test", AcceptLanguage: o.Lang,
		})
		return err
	})
	if err := chromedp.Do(ctx, setLang); err != nil {
		t.Fatalf("opening a tab in Chromium (%s): %v", bin, err)
	}
	limited, cancelTimeout := context.WithTimeout(ctx, o.Timeout)
	t.Cleanup(cancelTimeout)
	return limited
}

// Start starts the Chromium that t's New calls with the same options (and
// its subtests') will use, now: for a test that would otherwise launch it
// only after waiting for something else. The first New then gets its first
// tab, as if it had started it.
func Start(t testing.TB, o Options) {
	t.Helper()
	bin := Require(t)
	o = withDefaults(o)
	mu.Lock()
	defer mu.Unlock()
	if find(t, o) == nil {
		launch(t, bin, o).free = true
	}
}

// A running Chromium: its first tab's context, the test that started it
// and the options it started with; free while no New has that tab.
type process struct {
	ctx   context.Context
	owner string
	lang  string
	w, h  int64
	free  bool
}

var (
	mu        sync.Mutex
	processes []*process
)

// tab returns a new tab in a new browser context of the Chromium started by
// t or by a test t is a subtest of, with o's language and size, closed when
// t ends. Without one, it starts one, stopped when t ends, and returns its
// first tab, whose profile (a new user data directory) is as fresh.
func tab(t testing.TB, bin string, o Options) context.Context {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	p := find(t, o)
	if p == nil {
		return launch(t, bin, o).ctx
	}
	if p.free {
		p.free = false
		return p.ctx
	}
	ctx, cancel := chromedp.NewContext(p.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return ctx
}

// find returns the Chromium with o's language and size that t or a test t
// is a subtest of started, or nil. The caller holds mu.
func find(t testing.TB, o Options) *process {
	for _, p := range processes {
		if (t.Name() == p.owner || strings.HasPrefix(t.Name(), p.owner+"/")) && p.lang == o.Lang && p.w == o.Width && p.h == o.Height {
			return p
		}
	}
	return nil
}

// launch starts a Chromium, stopped when t ends. The caller holds mu.
func launch(t testing.TB, bin string, o Options) *process {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // tests run as root here
		chromedp.Flag("lang", o.Lang),
		chromedp.Flag("accept-lang", o.Lang),
		chromedp.WindowSize(int(o.Width), int(o.Height)),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	p := &process{ctx: ctx, owner: t.Name(), lang: o.Lang, w: o.Width, h: o.Height}
	t.Cleanup(func() {
		mu.Lock()
		processes = slices.DeleteFunc(processes, func(q *process) bool { return q == p })
		mu.Unlock()
		cancelCtx()
		cancelAlloc()
	})
	// This first run starts the browser, so its context has no timeout (a
	// timeout on it would stop the whole browser).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", bin, err)
	}
	processes = append(processes, p)
	return p
}

func withDefaults(o Options) Options {
	if o.Lang == "" {
		o.Lang = "en-US"
	}
	if o.Width == 0 {
		o.Width, o.Height = 900, 700
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	return o
}

// Screenshot writes a PNG of the whole page to path (directories created).
func Screenshot(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i]
		}
	}
	return "."
}
