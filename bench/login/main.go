// Command login benchmarks sign-ins at authgate_issuer: password logins per
// second over HTTP (the login form with its CSRF token, the default argon2id
// parameters m=19456 KiB, t=2, p=1, a new SSO session and an authorization
// code in bbolt for each) against raw argon2id verifications per second with
// the same parameters, measured in the same run in interleaved rounds. A
// login is CPU-bound by design: the ratio says what the rest of the path
// costs on top of the hash.
//
//	go run ./bench/login [-rounds 16] [-round 1s] [-c GOMAXPROCS] [-port 9555]
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/authgate/caddy-authgate/bench/internal/harness"
	"github.com/authgate/caddy-authgate/handlers/issuer"
)

func main() {
	rounds := flag.Int("rounds", 16, "interleaved rounds (the median ratio is reported)")
	round := flag.Duration("round", time.Second, "length of each half-round")
	conc := flag.Int("c", runtime.GOMAXPROCS(0), "concurrent browsers (HTTP clients with their own cookies); default one per core, what the slow-hash limiter admits")
	port := flag.Int("port", 9555, "loopback port")
	flag.Parse()
	if err := run(*rounds, *round, *conc, *port); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const password = "bench-password-123"

func run(rounds int, round time.Duration, conc, port int) error {
	fmt.Println(harness.Platform())
	hash, err := issuer.HashPassword(password)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "authgate-bench-login-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cb := base + "/cb"
	caddyfile := harness.BoltGlobals(filepath.Join(dir, "a.db")) + fmt.Sprintf(`%s {
	authgate_issuer {
		issuer %s
		user bench {
			password_hash %s
		}
		client app {
			secret app-secret
			redirect_uri %s
			grant_types authorization_code
			scopes openid
			skip_consent
		}
	}
	respond "ok"
}
`, base, base, hash, cb)
	if err := harness.StartCaddy(caddyfile); err != nil {
		return err
	}
	defer harness.StopCaddy()

	authz := base + "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {cb},
		"scope": {"openid"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode()
	browsers := make([]*browser, conc)
	for i := range browsers {
		if browsers[i], err = newBrowser(authz); err != nil {
			return err
		}
		if err := browsers[i].login(base); err != nil { // one checked login first
			return err
		}
	}

	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	var ratios, rawRates, httpRates []float64
	var busy int64
	for r := 0; r < rounds; r++ {
		raw := rawArgon2id(salt, round)
		ok, b, failed := hammer(browsers, base, round)
		if failed > 0 {
			return fmt.Errorf("%d logins failed", failed)
		}
		busy += b
		httpRate := float64(ok) / round.Seconds()
		rawRates, httpRates = append(rawRates, raw), append(httpRates, httpRate)
		ratios = append(ratios, httpRate/raw)
	}
	fmt.Printf("raw argon2id (m=%d KiB, t=%d, p=%d) on %d goroutines: median %.1f verifications/s\n",
		issuer.DefaultArgon2idMemoryKiB, issuer.DefaultArgon2idTime, issuer.DefaultArgon2idParallelism, runtime.GOMAXPROCS(0), harness.Median(rawRates))
	fmt.Printf("HTTP login POSTs (CSRF + argon2id + new session + code in bbolt, %d browsers): median %.1f logins/s (%.1f per core); %d answered 503 busy\n",
		conc, harness.Median(httpRates), harness.Median(httpRates)/float64(runtime.GOMAXPROCS(0)), busy)
	fmt.Printf("ratio HTTP logins / raw argon2id: median %.2f over %d rounds of %s (min %.2f, max %.2f)\n",
		harness.Median(ratios), rounds, round, slices.Min(ratios), slices.Max(ratios))
	return nil
}

// rawArgon2id runs the verification hash alone on every core.
func rawArgon2id(salt []byte, d time.Duration) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := 0; g < runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				argon2.IDKey([]byte(password), salt, issuer.DefaultArgon2idTime, issuer.DefaultArgon2idMemoryKiB, issuer.DefaultArgon2idParallelism, 32)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

type browser struct {
	c             *http.Client
	csrf, request string
}

var hiddenRE = regexp.MustCompile(`name="(csrf|request)" value="([^"]*)"`)

func newBrowser(authz string) (*browser, error) {
	jar, _ := cookiejar.New(nil)
	b := &browser{c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	res, err := b.c.Get(authz)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, m := range hiddenRE.FindAllStringSubmatch(string(body), -1) {
		if m[1] == "csrf" {
			b.csrf = html.UnescapeString(m[2])
		} else {
			b.request = html.UnescapeString(m[2])
		}
	}
	if b.csrf == "" || b.request == "" {
		return nil, fmt.Errorf("no login form (status %d)", res.StatusCode)
	}
	return b, nil
}

var errBusy = fmt.Errorf("busy")

func (b *browser) login(base string) error {
	f := url.Values{"csrf": {b.csrf}, "request": {b.request}, "username": {"bench"}, "password": {password}}
	res, err := b.c.Post(base+"/oauth/login", "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode == http.StatusServiceUnavailable {
		return errBusy
	}
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "code=") {
		return fmt.Errorf("login: status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	return nil
}

func hammer(bs []*browser, base string, d time.Duration) (ok, busy, failed int64) {
	var nOK, nBusy, nFail atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				switch err := b.login(base); err {
				case nil:
					nOK.Add(1)
				case errBusy:
					nBusy.Add(1)
				default:
					fmt.Fprintln(os.Stderr, err)
					nFail.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return nOK.Load(), nBusy.Load(), nFail.Load()
}
