package module

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/jwkscache"
)

// Collectors are created once per process, like Caddy's own HTTP metrics,
// and registered into each config's registry: counters stay monotonic across
// reloads.
var (
	metricsOnce sync.Once
	collectors  struct {
		requests    *prometheus.CounterVec
		verify      prometheus.Histogram
		cache       *prometheus.CounterVec
		jwksFetches *prometheus.CounterVec
		jwksKeys    *prometheus.GaugeVec
		jwksSuccess *prometheus.GaugeVec
		refetches   *prometheus.CounterVec
	}
)

func initCollectors() {
	const ns = "authgate"
	collectors.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "requests_total",
		Help: "Requests seen by the authgate gateway, by result (allowed, refused) and reason.",
	}, []string{"result", "reason"})
	collectors.verify = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Name: "verify_duration_seconds",
		Help:    "Time spent verifying tokens that missed the verified-token cache.",
		Buckets: []float64{5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 1e-3, 10e-3, 100e-3, 1},
	})
	collectors.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "token_cache_total",
		Help: "Verified-token cache lookups, by result (hit, miss).",
	}, []string{"result"})
	collectors.jwksFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "jwks_fetches_total",
		Help: "JWKS and discovery fetches, by URL and result.",
	}, []string{"url", "result"})
	collectors.jwksKeys = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "jwks_keys",
		Help: "Keys in the current key set, by URL.",
	}, []string{"url"})
	collectors.jwksSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "jwks_last_success_timestamp_seconds",
		Help: "When the current key set was fetched, by URL; its age is time() minus this.",
	}, []string{"url"})
	collectors.refetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "jwks_unknown_kid_refetches_total",
		Help: "Re-fetches caused by tokens with an unknown kid, by URL and whether they were suppressed by refetch_interval.",
	}, []string{"url", "suppressed"})
}

// gatewayMetrics holds pre-resolved counters for the hot path.
type gatewayMetrics struct {
	token     prometheus.Counter
	anonymous prometheus.Counter
	hit, miss prometheus.Counter
}

func newGatewayMetrics(reg *prometheus.Registry) (*gatewayMetrics, error) {
	metricsOnce.Do(initCollectors)
	if reg != nil {
		for _, c := range []prometheus.Collector{collectors.requests, collectors.verify, collectors.cache,
			collectors.jwksFetches, collectors.jwksKeys, collectors.jwksSuccess, collectors.refetches} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
			}
		}
	}
	return &gatewayMetrics{
		token:     collectors.requests.WithLabelValues("allowed", "token"),
		anonymous: collectors.requests.WithLabelValues("allowed", "anonymous"),
		hit:       collectors.cache.WithLabelValues("hit"),
		miss:      collectors.cache.WithLabelValues("miss"),
	}, nil
}

func (m *gatewayMetrics) allowed(d gateway.Decision) {
	if d.Claims == nil {
		m.anonymous.Inc()
		return
	}
	m.token.Inc()
	if d.Cached {
		m.hit.Inc()
		return
	}
	m.miss.Inc()
	collectors.verify.Observe(d.VerifyTime.Seconds())
}

func (m *gatewayMetrics) refused(e *gateway.Error) {
	collectors.requests.WithLabelValues("refused", e.Reason).Inc()
}

// jwksMetricsObserver feeds jwkscache events into the collectors.
type jwksMetricsObserver struct{}

func (jwksMetricsObserver) Fetched(url, result string, keys int, _ time.Duration) {
	metricsOnce.Do(initCollectors)
	collectors.jwksFetches.WithLabelValues(url, result).Inc()
	switch {
	case result == jwkscache.ResultOK && keys > 0: // keys == 0: a discovery document
		collectors.jwksKeys.WithLabelValues(url).Set(float64(keys))
		collectors.jwksSuccess.WithLabelValues(url).SetToCurrentTime()
	case result == jwkscache.ResultNotModified:
		collectors.jwksSuccess.WithLabelValues(url).SetToCurrentTime()
	}
}

func (jwksMetricsObserver) UnknownKidRefetch(url string, suppressed bool) {
	metricsOnce.Do(initCollectors)
	label := "false"
	if suppressed {
		label = "true"
	}
	collectors.refetches.WithLabelValues(url, label).Inc()
}
