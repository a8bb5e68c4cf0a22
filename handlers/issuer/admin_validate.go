package issuer

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/authgate/caddy-authgate/ipfilter"
	"github.com/authgate/caddy-authgate/store"
)

// Admin API input bounds.
const (
	maxClientNameLen   = 64
	maxListEntries     = 64
	maxIPEntries       = 1024
	maxURILen          = 2048
	maxDescriptionLen  = 256
	maxKeptSecrets     = 8
	maxBulkDelete      = 100
	maxAudienceEntryLn = 256
)

// clientInput is the body of a client create or edit: a field that is
// absent keeps its value (edit) or the default (create).
type clientInput struct {
	Name                   *string          `json:"name"`
	AuthMethods            *[]string        `json:"auth_methods"`
	GrantTypes             *[]string        `json:"grant_types"`
	RedirectURIs           *[]string        `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string        `json:"post_logout_redirect_uris"`
	Public                 *bool            `json:"public"`
	SkipConsent            *bool            `json:"skip_consent"`
	Scopes                 *[]string        `json:"scopes"`
	Audience               *[]string        `json:"audience"`
	AccessTokenTTL         *json.RawMessage `json:"access_token_ttl"`
	RefreshTokenTTL        *json.RawMessage `json:"refresh_token_ttl"`
	TokenFormat            *string          `json:"token_format"`
	AllowIP                *[]string        `json:"allow_ip"`
	DenyIP                 *[]string        `json:"deny_ip"`
	Disabled               *bool            `json:"disabled"`
	JWKSURI                *string          `json:"jwks_uri"`
}

// fields lists the JSON names of the fields present (for the audit log).
func (in *clientInput) fields() string {
	var f []string
	add := func(present bool, name string) {
		if present {
			f = append(f, name)
		}
	}
	add(in.Name != nil, "name")
	add(in.AuthMethods != nil, "auth_methods")
	add(in.GrantTypes != nil, "grant_types")
	add(in.RedirectURIs != nil, "redirect_uris")
	add(in.PostLogoutRedirectURIs != nil, "post_logout_redirect_uris")
	add(in.Public != nil, "public")
	add(in.SkipConsent != nil, "skip_consent")
	add(in.Scopes != nil, "scopes")
	add(in.Audience != nil, "audience")
	add(in.AccessTokenTTL != nil, "access_token_ttl")
	add(in.RefreshTokenTTL != nil, "refresh_token_ttl")
	add(in.TokenFormat != nil, "token_format")
	add(in.AllowIP != nil, "allow_ip")
	add(in.DenyIP != nil, "deny_ip")
	add(in.Disabled != nil, "disabled")
	add(in.JWKSURI != nil, "jwks_uri")
	return strings.Join(f, ",")
}

// ValidName reports whether s is a valid client or user name: 1 to 64
// letters, digits, '-', '.' or '_'.
func ValidName(s string) bool {
	if s == "" || len(s) > maxClientNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// ParseLifetime parses a lifetime in seconds, 1 to 2147483647.
func ParseLifetime(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > int64(MaxTTL.Seconds()) {
		return 0, false
	}
	return n, true
}

func lifetime(field string, raw *json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(*raw))
	if s == "null" || s == "0" {
		return 0, nil // the issuer's default
	}
	n, ok := ParseLifetime(s)
	if !ok {
		return 0, badField(field, "must be a whole number of seconds from 1 to 2147483647 (or 0 for the issuer's default), not %s", truncate(s, 40))
	}
	return n, nil
}

func checkList(field string, v []string, max int, each func(string) string) ([]string, error) {
	if len(v) > max {
		return nil, badField(field, "at most %d entries, got %d", max, len(v))
	}
	out := make([]string, 0, len(v))
	for _, e := range v {
		if reason := each(e); reason != "" {
			return nil, badField(field, "%s: %s", strconv.Quote(truncate(e, 80)), reason)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func checkRedirectURI(s string) string {
	if err := CheckRedirectURI(s); err != nil {
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, "\" "); ok && strings.HasPrefix(msg, "redirect URI ") {
			return after // the URI is already named by the caller
		}
		if _, after, ok := strings.Cut(msg, "\": "); ok {
			return after
		}
		return msg
	}
	return ""
}

// applyClientInput validates in and applies it to rec. Every error names
// the field and why.
func (i *Issuer) applyClientInput(rec *store.Client, in *clientInput, create bool) error {
	if in.Name != nil {
		if !ValidName(*in.Name) {
			return badField("name", "must be 1 to 64 letters, digits, '-', '.' or '_'")
		}
		rec.Name = *in.Name
	} else if create {
		return badField("name", "required")
	}
	var err error
	if in.AuthMethods != nil {
		if rec.AuthMethods, err = checkList("auth_methods", *in.AuthMethods, maxListEntries, func(m string) string {
			if clientAuthMethodByName(m) == nil {
				return "unsupported (supported: " + strings.Join(supportedAuthMethods(), ", ") + ")"
			}
			return ""
		}); err != nil {
			return err
		}
	}
	if in.GrantTypes != nil {
		if rec.GrantTypes, err = checkList("grant_types", *in.GrantTypes, maxListEntries, func(g string) string {
			if grantByType(g) == nil {
				return "unsupported grant type"
			}
			return ""
		}); err != nil {
			return err
		}
	}
	if in.RedirectURIs != nil {
		if rec.RedirectURIs, err = checkList("redirect_uris", *in.RedirectURIs, maxListEntries, checkRedirectURI); err != nil {
			return err
		}
	}
	if in.PostLogoutRedirectURIs != nil {
		if rec.PostLogoutRedirectURIs, err = checkList("post_logout_redirect_uris", *in.PostLogoutRedirectURIs, maxListEntries, checkRedirectURI); err != nil {
			return err
		}
	}
	if in.Public != nil {
		rec.Public = *in.Public
	}
	if in.SkipConsent != nil {
		rec.SkipConsent = *in.SkipConsent
	}
	if in.Scopes != nil {
		known := i.KnownScopes()
		if rec.Scopes, err = checkList("scopes", *in.Scopes, maxListEntries, func(s string) string {
			if !validScopeToken(s) {
				return "not a valid scope token (RFC 6749 §3.3)"
			}
			if !slices.Contains(known, s) {
				return "not a scope of this issuer (known: " + strings.Join(known, " ") + ")"
			}
			return ""
		}); err != nil {
			return err
		}
	}
	if in.Audience != nil {
		if rec.Audience, err = checkList("audience", *in.Audience, maxListEntries, func(a string) string {
			// No control characters: an audience goes into tokens and
			// on to upstream headers and logs.
			if a == "" || len(a) > maxAudienceEntryLn || !validDescription(a) {
				return "must be 1 to 256 characters of UTF-8, no control characters"
			}
			return ""
		}); err != nil {
			return err
		}
	}
	if in.AccessTokenTTL != nil {
		if rec.AccessTokenTTL, err = lifetime("access_token_ttl", in.AccessTokenTTL); err != nil {
			return err
		}
	}
	if in.RefreshTokenTTL != nil {
		if rec.RefreshTokenTTL, err = lifetime("refresh_token_ttl", in.RefreshTokenTTL); err != nil {
			return err
		}
	}
	if in.TokenFormat != nil {
		if *in.TokenFormat != "" && CheckTokenFormat(*in.TokenFormat) != nil {
			return badField("token_format", "must be jwt or opaque")
		}
		rec.TokenFormat = *in.TokenFormat
	}
	ipEntry := func(e string) string {
		if _, err := ipfilter.ParseEntry(e); err != nil {
			var ee *ipfilter.EntryError
			if errorsAs(err, &ee) {
				return ee.Reason
			}
			return err.Error()
		}
		return ""
	}
	if in.AllowIP != nil {
		if rec.AllowIP, err = checkList("allow_ip", *in.AllowIP, maxIPEntries, ipEntry); err != nil {
			return err
		}
	}
	if in.DenyIP != nil {
		if rec.DenyIP, err = checkList("deny_ip", *in.DenyIP, maxIPEntries, ipEntry); err != nil {
			return err
		}
	}
	if in.Disabled != nil {
		rec.Disabled = *in.Disabled
	}
	if in.JWKSURI != nil {
		if *in.JWKSURI != "" {
			u, err := url.Parse(*in.JWKSURI)
			if err != nil || u.Scheme != "https" || u.Host == "" || len(*in.JWKSURI) > maxURILen {
				return badField("jwks_uri", "must be an https URL")
			}
		}
		rec.JWKSURI = *in.JWKSURI
	}
	if in.Public != nil && !create && rec.Public != (len(rec.SecretHashes) == 0) {
		return badField("public", "cannot change after creation (a public client has no secret); create another client")
	}
	return nil
}

// KnownScopes are the scopes a run-time client may be given: those of the
// issuer's config clients and its scope_description entries, sorted.
func (i *Issuer) KnownScopes() []string {
	var out []string
	for _, c := range i.clients.config {
		for _, s := range c.scopes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	out = append(out, i.knownScopes...)
	slices.Sort(out)
	return slices.Compact(out)
}
