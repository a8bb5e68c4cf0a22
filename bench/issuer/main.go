// Command issuer benchmarks authgate_issuer: it measures the raw ES256
// signing cost of token.Signer, then starts a real Caddy in-process (HTTP on
// a loopback port, bbolt storage in a temp dir) with an ES256 issuer and
// measures client-credentials tokens per second over HTTP with concurrent
// keep-alive clients. It prints both rates and their ratio.
//
//	go run ./bench/issuer [-c 32] [-d 10s] [-sign 2s] [-port 9240]
package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/caddy-authgate/bench/internal/harness"
	"github.com/authgate/caddy-authgate/token"
)

func main() {
	conc := flag.Int("c", 32, "concurrent keep-alive HTTP clients")
	dur := flag.Duration("d", 10*time.Second, "HTTP measurement duration")
	signDur := flag.Duration("sign", 2*time.Second, "raw signing measurement duration")
	port := flag.Int("port", 9240, "loopback port")
	cpuprofile := flag.String("cpuprofile", "", "with -rounds: write a CPU profile of an extra token phase to `file`")
	rounds := flag.Int("rounds", 1, "interleaved rounds of signing, static requests and tokens (>= 16 for the 1.1x target)")
	flag.Parse()
	if *rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench: -rounds must be >= 1")
		os.Exit(2)
	}
	profileFile = *cpuprofile
	if err := run(*conc, *dur, *signDur, *port, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(conc int, dur, signDur time.Duration, port, rounds int) error {
	fmt.Printf("GOMAXPROCS=%d, %s/%s\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)

	// 1. Raw ES256 signing (the baseline), on all cores.
	signRate, err := measureSigning(signDur)
	if err != nil {
		return err
	}
	fmt.Printf("raw ES256 token.Signer.Sign: %.0f signatures/s (%d goroutines, %s)\n", signRate, runtime.GOMAXPROCS(0), signDur)

	// 2. A real Caddy with an ES256 issuer.
	dir, err := os.MkdirTemp("", "authgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	caddyfile := harness.BoltGlobals(filepath.Join(dir, "a.db")) + fmt.Sprintf(`http://%s {
	authgate_issuer {
		issuer http://%s
		signing_alg ES256
		client bench {
			secret bench-secret
			scopes read write
			# far above the load, so the limiter is on the measured path
			rate_limit 1000000/1s
		}
	}
	respond "ok"
}
`, addr, addr)
	if err := harness.StartCaddy(caddyfile); err != nil {
		return err
	}
	defer harness.StopCaddy()

	tokenURL := "http://" + addr + "/oauth/token"
	tr := &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer tr.CloseIdleConnections()

	// One checked request first: the harness must measure real issuance.
	if body, err := requestToken(client, tokenURL); err != nil {
		return err
	} else if !strings.Contains(body, `"access_token":"ey`) {
		return fmt.Errorf("unexpected token response %q", body)
	}

	if rounds > 1 {
		return runRounds(client, "http://"+addr, conc, dur, signDur, rounds)
	}

	// Warm-up, then measure.
	_, _ = hammer(client, tokenURL, conc, time.Second)
	ok, failed := hammer(client, tokenURL, conc, dur)
	if failed > 0 {
		return fmt.Errorf("%d requests failed (%d succeeded)", failed, ok)
	}
	httpRate := float64(ok) / dur.Seconds()
	fmt.Printf("HTTP client_credentials (ES256 JWT): %.0f tokens/s (%d keep-alive clients, %s, %d tokens)\n", httpRate, conc, dur, ok)
	fmt.Printf("ratio HTTP / raw signing: %.2f\n", httpRate/signRate)
	target := 5000.0
	verdict := "meets"
	if httpRate < target {
		verdict = "MISSES"
	}
	fmt.Printf("target >= %.0f tokens/s: %s\n", target, verdict)
	return nil
}

func measureSigning(d time.Duration) (float64, error) {
	priv, err := token.GenerateKey(token.ES256)
	if err != nil {
		return 0, err
	}
	s, err := token.NewSigner("bench", token.ES256, priv)
	if err != nil {
		return 0, err
	}
	claims := []byte(`{"iss":"http://127.0.0.1:9240","sub":"bench","aud":"http://127.0.0.1:9240","exp":1900000000,"iat":1899996400,"jti":"0123456789abcdefghijkl","client_id":"bench","scope":"read write"}`)
	var n atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	var firstErr atomic.Value
	for g := 0; g < runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := s.Sign(token.TypAccessToken, claims); err != nil {
					firstErr.Store(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(n.Load()) / d.Seconds(), nil
}

var tokenForm = url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}

// requestToken POSTs a client_credentials request to u (the token
// endpoint, or a static path for the baseline) and returns the 200 body.
func requestToken(c *http.Client, u string) (string, error) {
	body, err := harness.PostForm(c, u, tokenForm, "bench", "bench-secret")
	return string(body), err
}

func hammer(c *http.Client, u string, conc int, d time.Duration) (ok, failed int64) {
	var nOK, nFail atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := requestToken(c, u); err != nil {
					nFail.Add(1)
					continue
				}
				nOK.Add(1)
			}
		}()
	}
	wg.Wait()
	return nOK.Load(), nFail.Load()
}
