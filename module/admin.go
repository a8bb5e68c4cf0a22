package module

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

func init() {
	caddy.RegisterModule(new(AdminAPI))
}

// AuditLoggerName is the logger of the admin API's audit log: one line per
// change (what, which resource, by whom), never a secret.
const AuditLoggerName = "authgate.audit"

// AdminAPI is the `admin.api.authgate` module: the run-time management API
// of the config's issuers (clients, their secrets, revocations, signing
// keys, users) under /authgate/ on Caddy's admin endpoint, behind its
// access controls (the local endpoint's origin checks, the remote one's
// mutual TLS and access rules). The `caddy authgate` commands talk to it.
type AdminAPI struct {
	ctx   caddy.Context
	api   *issuer.AdminAPI
	audit *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (*AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.authgate",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision wires the API. The admin endpoint starts before the config's
// apps are provisioned, so the issuers are looked up per request.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	// Through the config's logging, so `log { include authgate.audit }`
	// can route the audit lines to their own output.
	a.audit = ctx.Logger(auditLogName{})
	counter, err := adminChangesCounter(ctx.GetMetricsRegistry())
	if err != nil {
		return err
	}
	a.api = &issuer.AdminAPI{
		Issuers: a.issuers,
		Audit: func(r *http.Request, ev issuer.AuditEvent) {
			fields := []zap.Field{
				zap.String("action", ev.Action), zap.String("issuer", ev.Issuer),
				zap.String("resource", ev.Resource), zap.String("by", ev.Actor),
			}
			keys := make([]string, 0, len(ev.Detail))
			for k := range ev.Detail {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fields = append(fields, zap.String(k, ev.Detail[k]))
			}
			a.audit.Info("authgate admin change", fields...)
			counter.WithLabelValues(ev.Action).Inc()
		},
		Users: issuer.AdminUsers,
	}
	return nil
}

// issuers returns the running config's issuers, their stores opened.
func (a *AdminAPI) issuers() ([]*issuer.Issuer, error) {
	v, err := a.ctx.AppIfConfigured("authgate")
	if errors.Is(err, caddy.ErrNotConfigured) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return v.(*App).adminIssuers()
}

// Routes implements caddy.AdminRouter.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{
		Pattern: issuer.AdminPrefix,
		Handler: caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			a.api.ServeHTTP(w, r)
			return nil
		}),
	}}
}

// adminIssuers lists the config's in-process issuers by URL, each opened
// (its store attached) so the admin API can edit what it serves.
func (a *App) adminIssuers() ([]*issuer.Issuer, error) {
	a.mu.RLock()
	var hs []*IssuerHandler
	for _, li := range a.issuers {
		if l, ok := li.(localIssuer); ok {
			hs = append(hs, l.h)
		}
	}
	a.mu.RUnlock()
	slices.SortFunc(hs, func(x, y *IssuerHandler) int { return strings.Compare(x.Issuer, y.Issuer) })
	out := make([]*issuer.Issuer, 0, len(hs))
	for _, h := range hs {
		if err := h.open(); err != nil {
			return nil, err
		}
		out = append(out, h.iss)
	}
	return out, nil
}

// auditLogName names the audit logger in the config's logging.
type auditLogName struct{}

func (auditLogName) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: AuditLoggerName, New: func() caddy.Module { return auditLogName{} }}
}

var (
	adminMetricsOnce sync.Once
	adminChanges     *prometheus.CounterVec
)

// adminChangesCounter is authgate_admin_changes_total{action}, one count
// per change made through the admin API.
func adminChangesCounter(reg *prometheus.Registry) (*prometheus.CounterVec, error) {
	adminMetricsOnce.Do(func() {
		adminChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "authgate", Name: "admin_changes_total",
			Help: "Changes made through the authgate admin API, by action (client.create, client.secret.rotate, ...).",
		}, []string{"action"})
	})
	if reg != nil {
		if err := reg.Register(adminChanges); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return adminChanges, nil
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
