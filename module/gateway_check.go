package module

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/authgate/caddy-authgate/jwkscache"
	"github.com/authgate/caddy-authgate/token"
)

// Checks of the gateway's configuration values, shared by the Caddyfile
// parser (which reports them with the file:line the value came from) and
// Validate (which reports them for JSON configs). Each refuses a value that
// would otherwise validate and then refuse every request, or send keys in
// cleartext.

// maxLeeway bounds the clock skew tolerated on exp, nbf and iat; the issuer
// keeps revocations until exp plus this much.
const maxLeeway = token.MaxLeeway

func checkLeeway(d time.Duration) error {
	if d < 0 || d > maxLeeway {
		return fmt.Errorf("leeway %s is out of range: must be between 0 and %s", jwkscache.FormatDuration(d), jwkscache.FormatDuration(maxLeeway))
	}
	return nil
}

// checkIssuerURL: an absolute http(s) URL without query or fragment (RFC
// 8414 §2), which is what discovery would demand at the first request.
func checkIssuerURL(raw string) error {
	if err := jwkscache.CheckURL(raw); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("%q: an issuer must not have a query", raw)
	}
	return nil
}

var errNoKeySource = errors.New("no key source: configure issuer, jwks, key, hmac_secret or introspect")

// errCleartext names the opt-in.
func errCleartext(what, raw string) error {
	return fmt.Errorf("%s %q uses plain http to a non-loopback host, so its keys could be replaced in transit; use https, or set insecure_http to accept the risk", what, raw)
}

// checkScope: a scope is compared with the space-delimited words of the
// token's scope claim, so an empty one or one with white space or control
// characters could never be present.
func checkScope(s string) error {
	if s == "" {
		return errors.New(`empty scope ""`)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("scope %q contains white space or a control character and could never match", s)
		}
	}
	return nil
}

func checkAudience(a string) error {
	if a == "" {
		return errors.New(`empty audience ""`)
	}
	return nil
}

// checkHeaderName: an RFC 9110 field name (token characters only), so the
// upstream request can be sent at all.
func checkHeaderName(name string) error {
	if name == "" {
		return errors.New("empty header name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 0x80 || c <= ' ' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 || c == 0x7f {
			return fmt.Errorf("header name %q is not a valid HTTP field name", name)
		}
	}
	return nil
}

// checkHMACLiteral checks the length of a literal secret; one with
// placeholders is checked once they are resolved, at Provision.
func checkHMACLiteral(s string) error {
	if strings.Contains(s, "{") {
		return nil
	}
	if len(s) < token.MinHMACBytes {
		return fmt.Errorf("hmac_secret is %d bytes; at least %d are required", len(s), token.MinHMACBytes)
	}
	return nil
}

// checkAlgorithmsFit refuses an algorithm that no configured kind of key
// source can verify: HS* without hmac_secret (key files and key sets hold
// public keys only), or an asymmetric algorithm with only hmac_secret. With
// an issuer anything goes: an in-process issuer may sign with either.
func (h *Gateway) checkAlgorithmsFit() error {
	if len(h.Issuers) > 0 {
		return nil
	}
	hasHMAC := h.HMACSecret != ""
	hasPublic := len(h.JWKS) > 0 || len(h.Keys) > 0
	for _, a := range h.Algorithms {
		if token.IsHMAC(a) && !hasHMAC {
			return fmt.Errorf("algorithm %s needs hmac_secret: jwks and key files hold public keys only, so every %s token would be refused", a, a)
		}
		if !token.IsHMAC(a) && !hasPublic {
			return fmt.Errorf("algorithm %s needs a public key (jwks, key or issuer): hmac_secret verifies HS256, HS384 and HS512 only", a)
		}
	}
	return nil
}

// checkAlgorithmsKeys is the precise form once key files are read: with
// only static keys, each allowed algorithm must fit one of them.
func (h *Gateway) checkAlgorithmsKeys() error {
	kr := h.routing
	if kr == nil || kr.static == nil || len(kr.jwks) > 0 || len(h.Issuers) > 0 {
		return nil
	}
	for _, a := range h.Algorithms {
		ok := false
		for _, k := range kr.static.Keys() {
			ok = ok || k.Allows(a)
		}
		if !ok {
			return fmt.Errorf("algorithm %s fits none of the configured keys, so every %s token would be refused", a, a)
		}
	}
	return nil
}

// tokenSourcesClash: two sources that would find the same credential make
// every request "more than one token".
func tokenSourcesClash(a, b TokenSourceConfig) bool {
	if a.Kind != b.Kind {
		return false
	}
	if a.Kind == "header" {
		return http.CanonicalHeaderKey(a.Name) == http.CanonicalHeaderKey(b.Name) &&
			(a.Scheme == "" || b.Scheme == "" || strings.EqualFold(a.Scheme, b.Scheme))
	}
	return a.Name == b.Name
}

// checkConfig runs every check on a complete configuration (Validate).
func (h *Gateway) checkConfig() error {
	if h.Leeway != nil {
		if err := checkLeeway(time.Duration(*h.Leeway)); err != nil {
			return err
		}
	}
	for _, iss := range h.Issuers {
		if err := checkIssuerURL(iss); err != nil {
			return fmt.Errorf("issuer: %w", err)
		}
		if jwkscache.Cleartext(iss) && !h.InsecureHTTP {
			return errCleartext("issuer", iss)
		}
	}
	for _, j := range h.JWKS {
		if err := j.validate(); err != nil {
			return fmt.Errorf("jwks %s: %w", j.URL, err)
		}
		if jwkscache.Cleartext(j.URL) && !h.InsecureHTTP {
			return errCleartext("jwks", j.URL)
		}
	}
	if h.HMACSecret != "" {
		if err := checkHMACLiteral(h.HMACSecret); err != nil {
			return err
		}
	}
	if h.Introspect != nil {
		if err := h.Introspect.validate(h.InsecureHTTP); err != nil {
			return err
		}
	}
	if err := token.CheckAlgorithms(h.Algorithms); err != nil {
		return err
	}
	if err := h.checkAlgorithmsFit(); err != nil {
		return err
	}
	if err := h.checkAlgorithmsKeys(); err != nil {
		return err
	}
	for _, a := range h.Audiences {
		if err := checkAudience(a); err != nil {
			return err
		}
	}
	for _, s := range append(append([]string(nil), h.Scopes...), h.ScopeAny...) {
		if err := checkScope(s); err != nil {
			return err
		}
	}
	for _, c := range h.Claims {
		if c.Path == "" || len(c.Values) == 0 {
			return errors.New("a claim rule needs a path and at least one value")
		}
	}
	seen := map[string]bool{}
	for _, hd := range h.Headers {
		if err := checkHeaderName(hd.Name); err != nil {
			return err
		}
		if hd.Claim == "" {
			return fmt.Errorf("header %s needs a claim path", hd.Name)
		}
		name := http.CanonicalHeaderKey(hd.Name)
		if seen[name] {
			return fmt.Errorf("header %s is mapped twice (header names are case-insensitive)", name)
		}
		seen[name] = true
	}
	for i, s := range h.TokenSources {
		if s.Name == "" {
			return fmt.Errorf("token_source %s needs a name", s.Kind)
		}
		for _, prev := range h.TokenSources[:i] {
			if tokenSourcesClash(prev, s) {
				return fmt.Errorf("token_source %s %s overlaps another one: every token would count twice", s.Kind, s.Name)
			}
		}
	}
	return nil
}

// warnCleartext logs every plain-http key source accepted by insecure_http.
func (h *Gateway) warnCleartext(logger *zap.Logger) {
	if !h.InsecureHTTP {
		return
	}
	for _, iss := range h.Issuers {
		if jwkscache.Cleartext(iss) {
			logger.Warn("insecure_http: fetching issuer metadata and keys over plain http; anyone on the path can substitute signing keys", zap.String("issuer", iss))
		}
	}
	for _, j := range h.JWKS {
		if jwkscache.Cleartext(j.URL) {
			logger.Warn("insecure_http: fetching a key set over plain http; anyone on the path can substitute signing keys", zap.String("jwks", j.URL))
		}
	}
}

// errAt reports err at tok's file:line, for checks that can only run once
// the whole block was read.
func errAt(tok caddyfile.Token, err error) error {
	d := caddyfile.NewDispenser([]caddyfile.Token{tok})
	d.Next()
	return d.WrapErr(err)
}
