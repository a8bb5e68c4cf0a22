package module

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// loginsTotal counts sign-ins at the issuer by result (success, failure,
// throttled, busy). Created once per process like the other collectors.
var (
	loginsOnce  sync.Once
	loginsTotal *prometheus.CounterVec
)

func initLoginCollector() {
	loginsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "authgate", Name: "issuer_logins_total",
		Help: "Sign-ins at the issuer's login page, by result (success, failure, throttled, busy).",
	}, []string{"result"})
}

// registerLoginMetrics registers the sign-in counter into a config's
// registry (tolerating a collector registered by an earlier config).
func registerLoginMetrics(reg *prometheus.Registry) error {
	loginsOnce.Do(initLoginCollector)
	if reg == nil {
		return nil
	}
	if err := reg.Register(loginsTotal); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return err
		}
	}
	return nil
}

func countLogin(result string) {
	loginsOnce.Do(initLoginCollector)
	loginsTotal.WithLabelValues(result).Inc()
}
