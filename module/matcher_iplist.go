package module

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/authgate/caddy-authgate/ipfilter"
	"github.com/authgate/caddy-authgate/jwkscache"
)

func init() {
	caddy.RegisterModule(new(MatchIPList))
}

// How often ip_list polls its files: by default, and the bounds. Polling
// more often than every second buys nothing (a change takes two polls
// anyway) and, at 1ns, burns a core; beyond a day a changed blocklist
// would wait too long to apply.
const (
	defaultIPListReload = 5 * time.Second
	minIPListReload     = time.Second
	maxIPListReload     = 24 * time.Hour
)

// checkReloadInterval accepts 0 (the default) or a duration in bounds.
func checkReloadInterval(d time.Duration) error {
	if d != 0 && (d < minIPListReload || d > maxIPListReload) {
		return fmt.Errorf("reload_interval %s is out of range: must be between %s and %s",
			jwkscache.FormatDuration(d), jwkscache.FormatDuration(minIPListReload), jwkscache.FormatDuration(maxIPListReload))
	}
	return nil
}

// MatchIPList matches requests whose client IP address passes an allow/deny
// list. Entries are single addresses (`192.0.2.55`), inclusive ranges
// (`192.0.2.55-192.0.2.61`) or CIDR prefixes (`192.0.2.0/24`), IPv4 or IPv6;
// the lists are merged into sorted intervals so that matching stays
// O(log n) and allocation-free at 100 000 entries.
//
// The request matches when the address is allowed: it is not in the deny
// list (deny wins) and, if an allow list is configured, it is in the allow
// list. Without an allow list every address not denied matches, so the usual
// blocklist is written `not ip_list { deny ... }` and an allowlist
// `ip_list <entries>`.
//
// The client IP is the one Caddy resolved for the request, which honours the
// server's `trusted_proxies` (and `client_ip_headers`); this matcher never
// reads X-Forwarded-For itself. An address that cannot be parsed never
// matches.
//
// List files hold one entry per line; blank lines and `#` comments are
// ignored. They are polled (modification time, size, replacement) every
// `reload_interval`; a changed file is swapped in atomically once two
// consecutive polls found it unchanged (stat and content hash), so a file
// being rewritten in place is not loaded half-written. Replace list files
// atomically anyway (write a temporary file, then rename it over the list).
// A file that fails to parse keeps the previous list and the error is
// logged.
//
// Caddyfile:
//
//	@office ip_list 192.0.2.0/24 2001:db8:1234::/48
//	@blocked not ip_list {
//		allow      <entry>...
//		deny       <entry>...
//		allow_file <path>...
//		deny_file  <path>...
//		reload_interval <duration>
//	}
type MatchIPList struct {
	// Allow is the allow list. When it (or AllowFiles) is non-empty, only
	// the addresses it contains can match.
	Allow []string `json:"allow,omitempty"`

	// Deny is the deny list. A denied address never matches, even if it is
	// also allowed.
	Deny []string `json:"deny,omitempty"`

	// AllowFiles are files of allow entries, one per line, `#` comments
	// allowed. Configuring an allow file makes an allow list exist even if
	// the file is empty (which then allows nothing).
	AllowFiles []string `json:"allow_files,omitempty"`

	// DenyFiles are files of deny entries, one per line, `#` comments
	// allowed.
	DenyFiles []string `json:"deny_files,omitempty"`

	// ReloadInterval is how often the list files are checked for changes.
	// A change applies on the second poll that sees it unchanged. Default:
	// 5s; 1s to 24h.
	ReloadInterval caddy.Duration `json:"reload_interval,omitempty"`

	filter *ipfilter.Dynamic
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (*MatchIPList) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.matchers.ip_list",
		New: func() caddy.Module { return new(MatchIPList) },
	}
}

// UnmarshalCaddyfile sets up the matcher from Caddyfile tokens. Syntax:
//
//	ip_list [<entry>...] [{
//		allow <entry>...
//		deny <entry>...
//		allow_file <path>...
//		deny_file <path>...
//		reload_interval <duration>
//	}]
//
// Inline entries form the allow list. allow, deny, allow_file and deny_file
// may repeat (their values accumulate); reload_interval may not. Entries are
// validated here, so a bad one is reported with its file and line.
func (m *MatchIPList) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume matcher name
	var err error
	// Inline entries (the matcher line itself) may be none.
	if m.Allow, err = argIPEntries(d, m.Allow, true, "ip_list"); err != nil {
		return err
	}
	sawInterval := false
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "allow":
			if m.Allow, err = argIPEntries(d, m.Allow, false, "ip_list"); err != nil {
				return err
			}
		case "deny":
			if m.Deny, err = argIPEntries(d, m.Deny, false, "ip_list"); err != nil {
				return err
			}
		case "allow_file":
			if m.AllowFiles, err = argAppend(d, m.AllowFiles); err != nil {
				return err
			}
		case "deny_file":
			if m.DenyFiles, err = argAppend(d, m.DenyFiles); err != nil {
				return err
			}
		case "reload_interval":
			if sawInterval {
				return d.Errf("ip_list: reload_interval specified more than once")
			}
			sawInterval = true
			s, err := argNext(d)
			if err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil {
				return d.Errf("ip_list: reload_interval %q: %v", s, err)
			}
			if dur == 0 {
				return d.Errf("ip_list: reload_interval must be positive, got %q", s)
			}
			if err := checkReloadInterval(dur); err != nil {
				return d.Errf("ip_list: %v", err)
			}
			m.ReloadInterval = caddy.Duration(dur)
			if err := argEnd(d); err != nil {
				return err
			}
		default:
			return d.Errf("ip_list: unknown subdirective %q", d.Val())
		}
	}
	if d.Next() {
		return d.Errf("ip_list: specified more than once in the same matcher set; put all entries in one ip_list")
	}
	if m.lists().Empty() {
		return d.Errf("ip_list: needs at least one entry or file")
	}
	return nil
}

func (m *MatchIPList) lists() ipfilter.Lists {
	return ipfilter.Lists{Allow: m.Allow, Deny: m.Deny, AllowFiles: m.AllowFiles, DenyFiles: m.DenyFiles}
}

// Provision parses the entries, loads the list files and starts polling
// them; the poller stops when the config is unloaded.
func (m *MatchIPList) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	l := m.lists()
	if l.Empty() {
		return fmt.Errorf("ip_list: no entries or files configured")
	}
	if m.ReloadInterval < 0 {
		return fmt.Errorf("ip_list: reload_interval must not be negative")
	}
	if err := checkReloadInterval(time.Duration(m.ReloadInterval)); err != nil {
		return fmt.Errorf("ip_list: %w", err)
	}
	d, err := ipfilter.NewDynamic(l)
	if err != nil {
		return fmt.Errorf("ip_list: %w", err)
	}
	m.filter = d
	allow, deny := d.Len()
	m.logger.Debug("ip list loaded", zap.Int("allow_intervals", allow), zap.Int("deny_intervals", deny),
		zap.Strings("allow_files", m.AllowFiles), zap.Strings("deny_files", m.DenyFiles))
	every := time.Duration(m.ReloadInterval)
	if every == 0 {
		every = defaultIPListReload
	}
	logger := m.logger
	d.Watch(ctx, every, func(path string, err error) {
		if err != nil {
			logger.Error("ip list file not reloaded; keeping the previous list", zap.String("file", path), zap.Error(err))
			return
		}
		allow, deny := d.Len()
		logger.Info("ip list file reloaded", zap.String("file", path),
			zap.Int("allow_intervals", allow), zap.Int("deny_intervals", deny))
	})
	return nil
}

// Match implements caddyhttp.RequestMatcher (kept for compatibility).
func (m *MatchIPList) Match(r *http.Request) bool {
	ok, _ := m.MatchWithError(r)
	return ok
}

// MatchWithError reports whether the client IP of r is allowed by the list.
func (m *MatchIPList) MatchWithError(r *http.Request) (bool, error) {
	// Like client_ip: during a TLS 0-RTT request the remote address is not
	// verified yet, so ask the client to retry after the handshake.
	if err := earlyDataError(r); err != nil {
		return false, err
	}
	addr, raw := clientIP(r)
	if !addr.IsValid() && m.logger != nil {
		m.logger.Error("ip_list: unparseable client IP; not matching", zap.String("client_ip", raw))
	}
	// A non-match is normal control flow for a matcher, so it is not logged
	// here (Explain is a linear scan; handlers that refuse requests use it).
	return m.filter.Allowed(addr), nil
}

// Interface guards
var (
	_ caddy.Module                      = (*MatchIPList)(nil)
	_ caddy.Provisioner                 = (*MatchIPList)(nil)
	_ caddyfile.Unmarshaler             = (*MatchIPList)(nil)
	_ caddyhttp.RequestMatcherWithError = (*MatchIPList)(nil)
)
