package jwkscache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxRedirects is how many redirects a fetch follows; the next one fails.
const MaxRedirects = 3

const userAgent = "authgate-jwkscache/1"

// response is a fetched document that passed the status, type and size checks.
type response struct {
	body        []byte
	header      http.Header
	notModified bool
}

// validators make a refresh conditional (ETag / Last-Modified), so an
// unchanged key set costs the server a 304 and us no parsing.
type validators struct {
	etag, lastModified string
}

// newHTTPClient returns the client every source of a cache shares. A client
// given in the config (tests, custom TLS roots) keeps its transport; the
// redirect policy is always ours. Total time is bounded per request by a
// context deadline, as sources may differ in Options.Timeout.
func newHTTPClient(base *http.Client) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: DefaultTimeout, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = DefaultTimeout
		t.ResponseHeaderTimeout = DefaultTimeout
		t.MaxIdleConnsPerHost = 2
		c.Transport = t
	}
	c.CheckRedirect = checkRedirect
	return &c
}

// checkRedirect follows at most MaxRedirects redirects and never from https
// down to plain http (except to a loopback host), which would hand the key
// set to anyone on the path.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return fmt.Errorf("stopped after %d redirects", MaxRedirects)
	}
	if via[0].URL.Scheme == "https" && !secureEnough(req.URL) {
		return fmt.Errorf("refusing redirect from https to %s", req.URL.Redacted())
	}
	return nil
}

// secureEnough: https, or http to a loopback host (local development).
func secureEnough(u *url.URL) bool {
	return u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname()))
}

// isLoopback accepts loopback IP literals and the name "localhost" only:
// other *.localhost names are not reliably resolved to loopback.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckURL reports whether raw is usable as a JWKS URL or issuer: absolute
// http or https with a host and no fragment. Config validation can call it;
// a fetch of a bad URL fails the same way.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%q: scheme must be https or http", raw)
	}
	if u.Hostname() == "" { // also "https://:443"
		return fmt.Errorf("%q: missing host", raw)
	}
	if u.Fragment != "" {
		return fmt.Errorf("%q: must not have a fragment", raw)
	}
	return nil
}

// Cleartext reports whether raw (a URL that passed CheckURL) is plain http
// to a host other than loopback: its key sets or metadata would travel
// unauthenticated, so anyone on the path could substitute signing keys.
// Config validation refuses such URLs unless the operator opts in. A
// discovered jwks_uri is checked by discovery itself: plain http only when
// the issuer is plain http as well.
func Cleartext(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && strings.EqualFold(u.Scheme, "http") && !isLoopback(u.Hostname())
}

// get fetches rawURL and returns its body after checking status (200, or 304
// for a conditional request), Content-Type and size.
func get(ctx context.Context, client *http.Client, rawURL, accept string, o Options, cond validators) (*response, error) {
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", userAgent)
	if cond.etag != "" {
		req.Header.Set("If-None-Match", cond.etag)
	}
	if cond.lastModified != "" {
		req.Header.Set("If-Modified-Since", cond.lastModified)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fetchErr(ctx, o, err)
	}
	defer func() {
		// A little draining lets the connection be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		resp.Body.Close()
	}()
	switch {
	case resp.StatusCode == http.StatusNotModified && (cond != validators{}):
		return &response{header: resp.Header, notModified: true}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, &StatusError{Code: resp.StatusCode}
	}
	if err := checkContentType(resp.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	if resp.ContentLength > o.MaxBodyBytes {
		return nil, fmt.Errorf("body of %d bytes exceeds the limit of %d", resp.ContentLength, o.MaxBodyBytes)
	}
	// Read one byte more than allowed to tell "exactly at the cap" from
	// "truncated": an oversized body is an error, never parsed in part.
	body, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxBodyBytes+1))
	if err != nil {
		return nil, fetchErr(ctx, o, err)
	}
	if int64(len(body)) > o.MaxBodyBytes {
		return nil, fmt.Errorf("body exceeds the limit of %d bytes", o.MaxBodyBytes)
	}
	return &response{body: body, header: resp.Header}, nil
}

// fetchErr names a timeout plainly instead of a nested url.Error chain.
func fetchErr(ctx context.Context, o Options, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s: %w", o.Timeout, context.DeadlineExceeded)
	}
	return err
}

// StatusError is a fetch answered with a status other than 200 (or 304 to a
// conditional request).
type StatusError struct {
	// Code is the HTTP status code.
	Code int
}

// Error names the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("unexpected HTTP status %d %s", e.Code, http.StatusText(e.Code))
}

// checkContentType accepts application/json and any +json type
// (application/jwk-set+json). A missing Content-Type is tolerated: the body
// must still parse as JSON, and some static hosts send none. Anything else,
// typically an HTML login or error page answered with 200, is refused.
func checkContentType(ct string) error {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%w: invalid %q: %v", errContentType, ct, err)
	}
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return nil
	}
	return fmt.Errorf("%w %q (want application/json or application/jwk-set+json)", errContentType, mt)
}

var errContentType = errors.New("unexpected Content-Type")
