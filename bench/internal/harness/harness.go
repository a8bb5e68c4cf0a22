// Package harness is what the benchmark commands under bench/ share: an
// in-process Caddy started from a Caddyfile, a form POST with client
// credentials, and the median of per-round rates.
package harness

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile" // the "caddyfile" adapter
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/authgate/caddy-authgate"
)

// Platform names the cores and platform a run measures, for the first line
// of its output.
func Platform() string {
	return fmt.Sprintf("GOMAXPROCS=%d, %s/%s", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
}

// StartCaddy adapts caddyfile and loads it in-process, printing adapter
// warnings to stderr. Stop it with StopCaddy.
func StartCaddy(caddyfile string) error {
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		return fmt.Errorf("adapting Caddyfile: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "caddyfile warning:", w.String())
	}
	if err := caddy.Load(cfg, true); err != nil {
		return fmt.Errorf("starting Caddy: %w", err)
	}
	return nil
}

// BoltGlobals is the global options block of a benchmark Caddyfile: no
// admin endpoint, no automatic HTTPS, only errors logged, and authgate's
// storage in the bbolt file db.
func BoltGlobals(db string) string {
	return fmt.Sprintf(`{
	admin off
	auto_https off
	log {
		level ERROR
	}
	authgate {
		storage bolt %s
	}
}
`, db)
}

// StopCaddy stops the Caddy StartCaddy started, reporting a failure on stderr.
func StopCaddy() {
	if err := caddy.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping Caddy:", err)
	}
}

// PostForm POSTs form to u with HTTP Basic client credentials and returns
// the body; any status but 200 is an error carrying the body.
func PostForm(c *http.Client, u string, form url.Values, clientID, secret string) ([]byte, error) {
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("status %d: %s", res.StatusCode, body)
	}
	return body, err
}

// Median is the median of v (the mean of the middle two for an even
// count), 0 for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
