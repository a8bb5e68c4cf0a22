package issuer

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The sign-in pages are html/template files, embedded; `templates <dir>`
// replaces any of them (same file names, same data):
//
//	layout.html   defines "header" and "footer", used by every page
//	login.html    the sign-in form (fields username, password, csrf, request)
//	consent.html  Allow / Deny for a client's scopes (fields csrf, request, decision)
//	error.html    an authorization request that cannot go back to its client
//	logout.html   the sign-out confirmation, and the signed-out page (.Done)
//	style.css     the stylesheet, served at <prefix>/assets/style.css
//
// Every page gets a pageData (see its fields). No page needs JavaScript,
// and the Content-Security-Policy allows none.
//
//go:embed pages/*.html pages/style.css
var embeddedPages embed.FS

var pageNames = []string{"login.html", "consent.html", "error.html", "logout.html"}

// pageSet is the parsed pages and the stylesheet.
type pageSet struct {
	tmpl    *template.Template
	css     []byte
	cssETag string
	cssHash string // for the stylesheet's URL, so a restyle is never cached stale
}

func loadPages(dir string) (*pageSet, error) {
	sub, _ := fs.Sub(embeddedPages, "pages")
	t, err := template.New("pages").Option("missingkey=zero").ParseFS(sub, "*.html")
	if err != nil {
		return nil, err
	}
	css, err := fs.ReadFile(sub, "style.css")
	if err != nil {
		return nil, err
	}
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%q is not a directory", dir)
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "*.html"))
		for _, m := range matches {
			name := filepath.Base(m)
			if name != "layout.html" && !contains(pageNames, name) {
				return nil, fmt.Errorf("%s: unknown template (want layout.html, %s)", m, strings.Join(pageNames, ", "))
			}
			src, err := os.ReadFile(m)
			if err != nil {
				return nil, err
			}
			if _, err := t.New(name).Parse(string(src)); err != nil {
				return nil, err
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "style.css")); err == nil {
			css = b
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	for _, n := range pageNames {
		if t.Lookup(n) == nil {
			return nil, fmt.Errorf("template %s is missing", n)
		}
	}
	sum := sha256.Sum256(css)
	h := base64.RawURLEncoding.EncodeToString(sum[:9])
	return &pageSet{tmpl: t, css: css, cssETag: `"` + h + `"`, cssHash: h}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// pageData is what every page template gets.
type pageData struct {
	Lang     string            // "en" or "ja"
	T        map[string]string // the page's texts in Lang
	Title    string
	Brand    string // the issuer's host
	StyleURL string
	CSRF     string // the form's CSRF token
	Action   string // the form's target
	// Request is the authorization request's parameters, carried through
	// the login and consent forms (re-checked on every step).
	Request  string
	Client   string // the client's name (or id)
	ClientID string
	Username string // login: the name typed or the login_hint
	User     string // consent, logout: the signed-in user
	Error    string // login: why the last attempt failed
	Scopes   []scopeItem
	// Error page: a message for people, and the OAuth error.
	Message          string
	ErrorCode        string
	ErrorDescription string
	// Logout.
	Hidden []hiddenField
	Done   bool
}

type scopeItem struct{ Name, Description string }

type hiddenField struct{ Name, Value string }

// pageHeaders sets the headers every page carries. formTargets are the
// origins (or schemes) a form may end up at (a redirect after a POST counts
// for form-action).
func pageHeaders(h http.Header, formTargets ...string) {
	fa := "'self'"
	for _, t := range formTargets {
		if t != "" {
			fa += " " + t
		}
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action "+fa+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// render writes a page.
func (i *Issuer) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData, formTargets ...string) {
	lang := pickLang(r.Header.Get("Accept-Language"))
	d.Lang, d.T = lang, messages[lang]
	if d.Title == "" {
		d.Title = d.T["title_"+strings.TrimSuffix(name, ".html")]
	}
	d.Brand = strings.TrimPrefix(strings.TrimPrefix(i.origin, "https://"), "http://")
	d.StyleURL = i.prefix + pathStyle + "?v=" + i.pages.cssHash
	var buf bytes.Buffer
	if err := i.pages.tmpl.ExecuteTemplate(&buf, name, d); err != nil {
		i.logger.Error("rendering a sign-in page failed", "page", name, "error", err.Error())
		pageHeaders(w.Header())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	pageHeaders(h, formTargets...)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// serveStyle serves the stylesheet (public, cacheable: it holds nothing
// personal).
func (i *Issuer) serveStyle(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", i.pages.cssETag)
	if r.Header.Get("If-None-Match") == i.pages.cssETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(i.pages.css)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(i.pages.css)
}

// pickLang chooses the page language from Accept-Language: the supported
// language with the highest q (the earliest among equals); English when none.
func pickLang(header string) string {
	best, bestQ := "en", -1.0
	if len(header) > 1024 {
		header = header[:1024]
	}
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		base, _, _ := strings.Cut(tag, "-")
		if _, ok := messages[base]; ok && q > bestQ && q > 0 {
			best, bestQ = base, q
		}
	}
	return best
}
