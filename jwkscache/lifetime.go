package jwkscache

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// lifetime computes how long a fetched document stays fresh, from its
// response headers, clamped to [min, max]:
//
//   - Cache-Control no-store or no-cache: min (the server asks us not to
//     reuse it without checking; min is as often as we are willing to ask).
//   - Cache-Control max-age=N: N seconds minus the Age header (time the
//     response already spent in a shared cache). Negative or zero means min.
//     s-maxage is ignored: this is a private cache.
//   - Expires (only without max-age, as RFC 9111 says): Expires - Date, or
//     Expires - now when Date is missing or invalid. An invalid Expires
//     means "already expired", so min.
//   - Nothing usable: DefaultLifetime.
//
// Malformed directives are ignored rather than failing the fetch.
func lifetime(h http.Header, now time.Time, min, max time.Duration) time.Duration {
	return clamp(rawLifetime(h, now), min, max)
}

func clamp(d, min, max time.Duration) time.Duration {
	if d < min {
		return min
	}
	if d > max {
		return max
	}
	return d
}

func rawLifetime(h http.Header, now time.Time) time.Duration {
	maxAge, haveMaxAge := time.Duration(0), false
	for _, line := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				if d, ok := parseSeconds(value); ok && !haveMaxAge {
					maxAge, haveMaxAge = d, true
				}
			}
		}
	}
	if haveMaxAge {
		if age, ok := parseSeconds(h.Get("Age")); ok {
			maxAge -= age
		}
		return maxAge
	}
	if exp := h.Get("Expires"); exp != "" {
		expires, err := http.ParseTime(exp)
		if err != nil {
			return 0
		}
		base := now
		if date, err := http.ParseTime(h.Get("Date")); err == nil {
			base = date
		}
		return expires.Sub(base) // saturates on overflow
	}
	return DefaultLifetime
}

// parseSeconds parses a delta-seconds value (RFC 9111 §1.2.2), optionally
// quoted; values too large for a Duration saturate.
func parseSeconds(v string) (time.Duration, bool) {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if v == "" {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > math.MaxInt64/int64(time.Second) {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(n) * time.Second, true
}
