package module

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/authgate/caddy-authgate/store"
	storeredis "github.com/authgate/caddy-authgate/store/redis"
)

func init() {
	caddy.RegisterModule(new(RedisStorage))
}

// RedisStorage keeps everything in Redis, so that several Caddy instances
// share one issuer: standalone (one URL), Cluster (several URLs, the seeds)
// or Sentinel. Records expire natively; single use, code redemption and
// signing-key updates are atomic across instances, and so are refresh
// rotations; revocations, client, not-before and key changes reach every
// instance through pub/sub. See README "Storage:
// Redis" for persistence and sizing.
type RedisStorage struct {
	// URLs are `redis://[user:password@]host:port[/db]` or `rediss://...`
	// (TLS). One URL: a standalone server; several: Redis Cluster seeds.
	// Placeholders such as {env.REDIS_URL} are resolved.
	URLs []string `json:"urls,omitempty"`
	// SentinelMaster, with SentinelAddrs, selects Sentinel: the master's
	// name and the Sentinels' host:port addresses.
	SentinelMaster string   `json:"sentinel_master,omitempty"`
	SentinelAddrs  []string `json:"sentinel_addrs,omitempty"`
	// DB is the database number with Sentinel (with URLs it is the URL's
	// path). Default 0.
	DB int `json:"db,omitempty"`
	// Cluster forces Cluster mode with a single seed URL.
	Cluster bool `json:"cluster,omitempty"`
	// Prefix starts every key. Default `authgate:`.
	Prefix string `json:"prefix,omitempty"`
	// Username and Password authenticate (ACL user, or password alone);
	// they override a URL's. Placeholders such as {env.REDIS_PASSWORD}.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TLS turns on TLS (a rediss:// URL does too).
	TLS bool `json:"tls,omitempty"`
	// OutageGrace is how long gateways keep admitting tokens from what
	// they hold in memory while Redis is unreachable, before they fail
	// closed with 503. Default 1m. (Token issuance answers 503 at once.)
	OutageGrace caddy.Duration `json:"outage_grace,omitempty"`
	// Timeout bounds one store call on Redis (connecting, every command,
	// go-redis' retries): a Redis that does not answer fails the request
	// with 503 within it. Default 2s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	opts storeredis.Options
}

// CaddyModule returns the Caddy module information.
func (*RedisStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "authgate.storage.redis", New: func() caddy.Module { return new(RedisStorage) }}
}

// Provision resolves placeholders and parses the addresses; it does not
// connect.
func (r *RedisStorage) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	resolve := func(s string) (string, error) { return repl.ReplaceOrErr(s, true, true) }
	o := storeredis.Options{Prefix: r.Prefix, Cluster: r.Cluster, DB: r.DB, OutageGrace: time.Duration(r.OutageGrace), OpTimeout: time.Duration(r.Timeout)}
	if r.Timeout < 0 {
		return fmt.Errorf("redis storage: timeout %s: want a positive duration", time.Duration(r.Timeout))
	}
	var err error
	if o.Username, err = resolve(r.Username); err != nil {
		return fmt.Errorf("redis storage: username: %w", err)
	}
	if o.Password, err = resolve(r.Password); err != nil {
		return fmt.Errorf("redis storage: password: %w", err)
	}
	useTLS := r.TLS
	switch {
	case r.SentinelMaster != "" && len(r.URLs) > 0:
		return fmt.Errorf("redis storage: give URLs or sentinel, not both")
	case r.SentinelMaster != "":
		if len(r.SentinelAddrs) == 0 {
			return fmt.Errorf("redis storage: sentinel %q needs at least one address", r.SentinelMaster)
		}
		o.MasterName = r.SentinelMaster
		for _, a := range r.SentinelAddrs {
			if a, err = resolve(a); err != nil {
				return fmt.Errorf("redis storage: sentinel address: %w", err)
			}
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fmt.Errorf("redis storage: sentinel address %q: want host:port", a)
			}
			o.Addrs = append(o.Addrs, a)
		}
	case len(r.URLs) == 0:
		return fmt.Errorf("redis storage: no URL")
	default:
		for i, u := range r.URLs {
			if u, err = resolve(u); err != nil {
				return fmt.Errorf("redis storage: URL: %w", err)
			}
			po, err := goredis.ParseURL(u)
			if err != nil {
				return fmt.Errorf("redis storage: URL %d: %v", i+1, redactURLError(err, u))
			}
			o.Addrs = append(o.Addrs, po.Addr)
			if po.TLSConfig != nil {
				useTLS = true
			}
			if i == 0 {
				o.DB = po.DB
				if o.Username == "" {
					o.Username = po.Username
				}
				if o.Password == "" {
					o.Password = po.Password
				}
			}
		}
		if len(o.Addrs) > 1 && o.DB != 0 {
			return fmt.Errorf("redis storage: a Cluster has only database 0")
		}
	}
	if useTLS {
		host, _, _ := net.SplitHostPort(o.Addrs[0])
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	if strings.ContainsAny(r.Prefix, "{}") {
		return fmt.Errorf("redis storage: prefix %q may not hold braces", r.Prefix)
	}
	if o.Prefix == "" {
		o.Prefix = storeredis.DefaultPrefix
	}
	r.opts = o
	return nil
}

// redactURLError keeps a URL's password out of an error message.
func redactURLError(err error, u string) string {
	msg := err.Error()
	if i := strings.Index(u, "@"); i > 0 {
		msg = strings.ReplaceAll(msg, u[:i], "redis://<credentials>")
	}
	return msg
}

// StorageKey implements StorageEngine: one engine per server set, database,
// prefix and credentials (the password only as a hash).
func (r *RedisStorage) StorageKey() string {
	o := r.opts
	pw := sha256.Sum256([]byte(o.Password))
	return "redis:" + strings.Join(o.Addrs, ",") + "|" + o.MasterName + "|" + strconv.Itoa(o.DB) + "|" + o.Prefix +
		"|" + o.Username + "|" + hex.EncodeToString(pw[:8]) + "|" + strconv.FormatBool(o.TLS != nil) + strconv.FormatBool(o.Cluster) + "|" + o.OutageGrace.String() + "|" + o.OpTimeout.String()
}

// OpenStorage implements StorageEngine. A Redis that does not answer is
// logged, not fatal: every command reconnects.
func (r *RedisStorage) OpenStorage(ctx caddy.Context) (store.Engine, error) {
	o := r.opts
	o.Logger = ctx.Slogger()
	e, err := storeredis.New(o)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := e.Ping(pctx); err != nil {
		ctx.Logger().Warn("redis storage does not answer yet; requests that need it fail with 503 until it does",
			zap.Strings("addrs", o.Addrs), zap.Error(err))
	}
	return e, nil
}

// SharedAcrossInstances implements SharedStorage: every instance on the
// Redis sees the same records, so gateways record DPoP proof jtis there
// and a proof replayed to another instance is refused too.
func (*RedisStorage) SharedAcrossInstances() bool { return true }

// UnmarshalCaddyfile parses (after `storage`):
//
//	redis <url>... | sentinel <master> <addr>... {
//		prefix <prefix>
//		username <user>
//		password <password>
//		tls
//		cluster
//		db <n>
//		outage_grace <duration>
//		timeout <duration>
//	}
func (r *RedisStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // engine name
	args := d.RemainingArgs()
	switch {
	case len(args) == 0:
		return d.ArgErr()
	case args[0] == "sentinel":
		if len(args) < 3 {
			return d.Errf("sentinel needs a master name and at least one address")
		}
		r.SentinelMaster, r.SentinelAddrs = args[1], args[2:]
	default:
		for _, u := range args {
			if !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") && !strings.HasPrefix(u, "{") {
				return d.Errf("redis URL %q: want redis://host:port or rediss://host:port", u)
			}
		}
		r.URLs = args
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] {
			return d.Errf("duplicate subdirective %q", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "prefix":
			if r.Prefix, err = argOne(d); err == nil && strings.ContainsAny(r.Prefix, "{}") {
				return d.Errf("prefix %q may not hold braces", r.Prefix)
			}
		case "username":
			r.Username, err = argOne(d)
		case "password":
			r.Password, err = argOne(d)
		case "tls":
			err = argNone(d, func() { r.TLS = true })
		case "outage_grace":
			r.OutageGrace, err = argDuration(d)
		case "timeout":
			if r.Timeout, err = argDuration(d); err == nil && r.Timeout <= 0 {
				return d.Errf("timeout %s: want a positive duration", time.Duration(r.Timeout))
			}
		case "cluster":
			err = argNone(d, func() { r.Cluster = true })
		case "db":
			var s string
			if s, err = argOne(d); err == nil {
				if r.DB, err = strconv.Atoi(s); err != nil || r.DB < 0 {
					return d.Errf("db %q: want a database number", s)
				}
				if r.SentinelMaster == "" {
					return d.Err("db is for sentinel; with URLs the database is the URL's path (redis://host:6379/2)")
				}
			}
		default:
			return d.Errf("unknown subdirective %q", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var (
	_ StorageEngine         = (*RedisStorage)(nil)
	_ caddy.Provisioner     = (*RedisStorage)(nil)
	_ caddyfile.Unmarshaler = (*RedisStorage)(nil)
)
