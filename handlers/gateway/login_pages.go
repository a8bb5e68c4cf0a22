package gateway

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

//go:embed pages/page.html pages/page.css
var pageFiles embed.FS

var (
	pageTemplate = template.Must(template.ParseFS(pageFiles, "pages/page.html"))
	pageStyle    = mustRead("pages/page.css")
	// pageCSP allows nothing but the page's own inline style (by hash) and
	// forms posting to this origin; no framing (clickjacking).
	pageCSP = "default-src 'none'; style-src 'sha256-" + styleHash() + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

func mustRead(name string) string {
	b, err := pageFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(b))
}

func styleHash() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// pageText is one page's wording.
type pageText struct{ title, message string }

var (
	pageBadCallback    = pageText{"Sign-in failed", "The sign-in response was malformed. Please start again."}
	pageStaleAttempt   = pageText{"Sign-in expired", "This sign-in was already used, has expired, or was started in another browser. Please start again."}
	pageProviderDown   = pageText{"Sign-in unavailable", "The identity provider cannot be reached right now. Please try again in a moment."}
	pageStoreDown      = pageText{"Sign-in unavailable", "Sessions cannot be stored right now. Please try again in a moment."}
	pageExchangeFailed = pageText{"Sign-in failed", "The identity provider did not complete the sign-in. Please start again."}
	pageBadIDToken     = pageText{"Sign-in failed", "The identity provider's answer could not be verified. Please start again."}
	pageForbidden      = pageText{"Access denied", "You are signed in, but your account is not allowed to open this page."}
	pageLogout         = pageText{"Sign out", "Do you want to sign out?"}
	pageSignedOut      = pageText{"Signed out", "You have been signed out."}
)

// providerErrors word the provider's RFC 6749 §4.1.2.1 error codes.
var providerErrors = map[string]pageText{
	"access_denied":             {"Sign-in cancelled", "The sign-in was cancelled or access was not granted."},
	"login_required":            {"Sign-in required", "The identity provider needs you to sign in."},
	"consent_required":          {"Consent required", "The identity provider needs your consent to continue."},
	"interaction_required":      {"Sign-in required", "The identity provider needs you to sign in."},
	"temporarily_unavailable":   {"Sign-in unavailable", "The identity provider is temporarily unavailable. Please try again in a moment."},
	"server_error":              {"Sign-in failed", "The identity provider had an error. Please try again."},
	"invalid_scope":             {"Sign-in failed", "The identity provider refused the requested permissions."},
	"unauthorized_client":       {"Sign-in failed", "This application is not allowed to sign in with the identity provider."},
	"unsupported_response_type": {"Sign-in failed", "The identity provider does not support this sign-in."},
	"invalid_request":           {"Sign-in failed", "The identity provider refused the sign-in request."},
}

type pageData struct {
	Status, Title, Message, Detail string
	Style                          template.CSS
	Form, CSRF, Button             string
	Link, LinkText                 string
}

func (l *Login) renderError(w http.ResponseWriter, r *http.Request, status int, t pageText) {
	l.render(w, r, status, pageData{Title: t.title, Message: t.message, Link: "/", LinkText: "Start again"})
}

func (l *Login) renderProviderError(w http.ResponseWriter, r *http.Request, code, desc, ret string) {
	t, ok := providerErrors[code]
	if !ok {
		t = pageText{"Sign-in failed", "The identity provider refused the sign-in."}
	}
	if !safeReturn(ret) {
		ret = "/"
	}
	d := pageData{Title: t.title, Message: t.message, Link: ret, LinkText: "Start again"}
	if desc != "" && printableASCII(desc) {
		d.Detail = code + ": " + desc // html/template escapes it
	}
	l.render(w, r, http.StatusForbidden, d)
}

// RenderForbidden writes the 403 page of a signed-in browser whose identity
// a scope or claim rule refused.
func (l *Login) RenderForbidden(w http.ResponseWriter, r *http.Request) {
	l.render(w, r, http.StatusForbidden, pageData{Title: pageForbidden.title, Message: pageForbidden.message,
		Form: l.cfg.LogoutPath, CSRF: l.csrfToken(r), Button: "Sign in as someone else"})
}

func (l *Login) render(w http.ResponseWriter, r *http.Request, status int, d pageData) {
	d.Status = strconv.Itoa(status) + " " + http.StatusText(status)
	d.Style = template.CSS(pageStyle)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_ = pageTemplate.Execute(w, d)
}
