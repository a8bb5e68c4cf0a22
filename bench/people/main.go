// Command people benchmarks the token side of people sign-in over HTTP:
// authorization-code exchanges per second and refreshes per second at an
// issuer served by net/http on a loopback port (store: a real bbolt file by
// default), against the raw signing cost measured in the same run. Each of
// -rounds rounds measures, one after another, n raw signatures, n code
// exchanges (codes put into the store beforehand, as the authorization
// endpoint would) and n refreshes (of the tokens those exchanges issued),
// each phase with -c concurrent keep-alive clients; it prints the medians
// of the per-round rates and ratios.
//
//	go run ./bench/people [-rounds 16] [-n 200] [-c 16] [-store bolt|memory] [-idalg ES256|RS256]
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/authgate/caddy-authgate/bench/internal/harness"
	"github.com/authgate/caddy-authgate/handlers/issuer"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
	"github.com/authgate/caddy-authgate/token"
)

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

type engine interface {
	issuer.Store
	Close() error
}

func main() {
	rounds := flag.Int("rounds", 16, "interleaved rounds")
	n := flag.Int("n", 200, "operations per phase and round")
	conc := flag.Int("c", 16, "concurrent keep-alive clients")
	storeKind := flag.String("store", "bolt", "bolt (a real file, fsync per write) or memory")
	idAlg := flag.String("idalg", "ES256", "the client's id_token_signed_response_alg (RS256 uses 3072-bit keys)")
	port := flag.Int("port", 9540, "loopback port")
	flag.Parse()
	if err := run(*rounds, *n, *conc, *storeKind, *idAlg, *port); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(rounds, n, conc int, storeKind, idAlg string, port int) error {
	fmt.Printf("%s, store %s, ID tokens %s, %d rounds of %d operations, %d clients\n",
		harness.Platform(), storeKind, idAlg, rounds, n, conc)
	var st engine
	switch storeKind {
	case "bolt":
		dir, err := os.MkdirTemp("", "authgate-bench-people-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		b, err := store.OpenBolt(filepath.Join(dir, "a.db"), store.BoltOptions{})
		if err != nil {
			return err
		}
		st = b
	case "memory":
		st = memory.New(memory.Options{})
	default:
		return fmt.Errorf("unknown store %q", storeKind)
	}
	defer st.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	iss, err := issuer.New(context.Background(), issuer.Config{
		Issuer: "http://" + addr, SigningAlg: token.ES256, Store: st,
		SignInConfig: issuer.SignInConfig{Users: []issuer.UserConfig{{Name: "alice", PasswordHash: cheapHash(),
			Claims: map[string]any{"email": "alice@example.com"}}}},
		Clients: []issuer.ClientConfig{{
			ID: "bench", Secrets: []issuer.SecretConfig{{Plain: "bench-secret"}}, Scopes: []string{"openid", "email", "read"},
			GrantTypes: []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken},
			RateLimit:  &issuer.RateLimit{},
			PeopleConfig: issuer.PeopleConfig{RedirectURIs: []string{"https://app.example/cb"},
				IDTokenSignedResponseAlg: idAlg},
		}},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: iss}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	tokenURL := "http://" + addr + "/oauth/token"

	signer, err := benchSigner(token.ES256)
	if err != nil {
		return err
	}
	var signRates, codeRates, refreshRates, codeRatios, refreshRatios []float64
	// CPU per operation too (process CPU: clients, issuer and store share
	// the process): other sessions on the shared cores move it far less
	// than the rates; it leaves out fsync waits, which the rates include.
	var codeCPURatios, refreshCPURatios []float64
	var cpuSign, cpuCode, cpuRefresh time.Duration
	for r := range rounds {
		codes, err := putCodes(st, n)
		if err != nil {
			return err
		}
		c0 := processCPU()
		signRate := parallel(n, conc, func(int) error {
			_, err := signer.Sign(token.TypAccessToken, sampleClaims)
			return err
		})
		c1 := processCPU()
		refreshTokens := make([]string, n)
		codeRate := parallel(n, conc, func(k int) error {
			body, err := post(client, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {codes[k]},
				"code_verifier": {verifier}, "redirect_uri": {"https://app.example/cb"}})
			if err != nil {
				return err
			}
			var resp struct {
				RefreshToken string `json:"refresh_token"`
				IDToken      string `json:"id_token"`
			}
			if err := json.Unmarshal(body, &resp); err != nil || resp.RefreshToken == "" || resp.IDToken == "" {
				return fmt.Errorf("exchange answered %s", body)
			}
			refreshTokens[k] = resp.RefreshToken
			return nil
		})
		c2 := processCPU()
		refreshRate := parallel(n, conc, func(k int) error {
			body, err := post(client, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshTokens[k]}})
			if err == nil && !strings.Contains(string(body), `"refresh_token"`) {
				err = fmt.Errorf("refresh answered %s", body)
			}
			return err
		})
		c3 := processCPU()
		if signRate < 0 || codeRate < 0 || refreshRate < 0 {
			return fmt.Errorf("round %d failed", r)
		}
		cpuSign, cpuCode, cpuRefresh = cpuSign+c1-c0, cpuCode+c2-c1, cpuRefresh+c3-c2
		codeCPURatios = append(codeCPURatios, float64(c1-c0)/float64(c2-c1))
		refreshCPURatios = append(refreshCPURatios, float64(c1-c0)/float64(c3-c2))
		signRates, codeRates, refreshRates = append(signRates, signRate), append(codeRates, codeRate), append(refreshRates, refreshRate)
		codeRatios, refreshRatios = append(codeRatios, codeRate/signRate), append(refreshRatios, refreshRate/signRate)
		fmt.Printf("round %2d: raw ES256 %6.0f sig/s, code exchanges %6.0f/s, refreshes %6.0f/s; CPU per op: %s, %s, %s\n",
			r+1, signRate, codeRate, refreshRate, (c1-c0)/time.Duration(n), (c2-c1)/time.Duration(n), (c3-c2)/time.Duration(n))
	}
	fmt.Printf("median raw ES256 signatures/s: %.0f\n", harness.Median(signRates))
	fmt.Printf("median code exchanges/s: %.0f (ratio to raw signing: median %.3f, range %.3f-%.3f)\n",
		harness.Median(codeRates), harness.Median(codeRatios), slices.Min(codeRatios), slices.Max(codeRatios))
	fmt.Printf("median refreshes/s: %.0f (ratio to raw signing: median %.3f, range %.3f-%.3f)\n",
		harness.Median(refreshRates), harness.Median(refreshRatios), slices.Min(refreshRatios), slices.Max(refreshRatios))
	per := func(d time.Duration) time.Duration { return d / time.Duration(rounds*n) }
	fmt.Printf("process CPU per op (all rounds): signature %s, code exchange %s, refresh %s\n", per(cpuSign), per(cpuCode), per(cpuRefresh))
	fmt.Printf("CPU ratio signature / exchange: median %.3f (range %.3f-%.3f); signature / refresh: median %.3f (range %.3f-%.3f)\n",
		harness.Median(codeCPURatios), slices.Min(codeCPURatios), slices.Max(codeCPURatios),
		harness.Median(refreshCPURatios), slices.Min(refreshCPURatios), slices.Max(refreshCPURatios))
	return nil
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var sampleClaims = []byte(`{"iss":"http://127.0.0.1:9540","sub":"alice","aud":"http://127.0.0.1:9540","exp":1900000000,"iat":1899996400,"jti":"0123456789abcdefghijkl","client_id":"bench","scope":"openid email read","auth_time":1899996000}`)

func benchSigner(alg string) (*token.Signer, error) {
	priv, err := token.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	return token.NewSigner("bench", alg, priv)
}

// parallel runs op(0..n-1) on conc goroutines and returns operations per
// second, or -1 after printing the first error.
func parallel(n, conc int, op func(int) error) float64 {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				if err := op(k); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return -1
	}
	return float64(n) / time.Since(start).Seconds()
}

func post(c *http.Client, u string, f url.Values) ([]byte, error) {
	return harness.PostForm(c, u, f, "bench", "bench-secret")
}

// putCodes stores n codes as the authorization endpoint issues them.
func putCodes(st store.CodeStore, n int) ([]string, error) {
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	now := time.Now()
	out := make([]string, n)
	for k := range out {
		raw := make([]byte, 32)
		rand.Read(raw)
		code := base64.RawURLEncoding.EncodeToString(raw)
		h := sha256.Sum256([]byte(code))
		fam := make([]byte, 16)
		rand.Read(fam)
		if err := st.PutCode(context.Background(), store.CodeRecord{
			Hash: h[:], ClientID: "bench", RedirectURI: "https://app.example/cb", CodeChallenge: challenge,
			Scopes: []string{"openid", "email", "read"}, Subject: "alice", AuthTime: now,
			FamilyID: base64.RawURLEncoding.EncodeToString(fam), RedeemBy: now.Add(10 * time.Minute), ExpiresAt: now.Add(20 * time.Minute),
		}); err != nil {
			return nil, err
		}
		out[k] = code
	}
	return out, nil
}

func cheapHash() string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte("unused"), salt, 1, 8, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}
