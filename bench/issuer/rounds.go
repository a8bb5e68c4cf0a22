package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// phase is one measured stretch: operations done, wall time, process CPU.
type phase struct {
	n    int64
	wall time.Duration
	cpu  time.Duration
}

func (p phase) wallPer() time.Duration { return p.wall / time.Duration(max(p.n, 1)) }
func (p phase) cpuPer() time.Duration  { return p.cpu / time.Duration(max(p.n, 1)) }

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measured runs f and records its wall and process CPU time.
func measured(f func() (int64, error)) (phase, error) {
	t0, c0 := time.Now(), processCPU()
	n, err := f()
	return phase{n: n, wall: time.Since(t0), cpu: processCPU() - c0}, err
}

// runRounds checks the design's issuer target, CPU per token within 1.1 x
// (a static Caddy request + one raw signature), in interleaved rounds of
// three phases: raw signing on every core, the same client_credentials POST
// (form and Basic credentials) to a path of the same Caddy site that only
// `respond`s, and real token requests. Client, Caddy and signer all run in
// this process, so per-phase process CPU per operation counts the same
// load-generator cost in the static baseline and in the token phase; it is
// steadier than wall time when other sessions share the cores. Both are
// reported, as medians of the rounds' ratios.
func runRounds(c *http.Client, base string, conc int, dur, signDur time.Duration, rounds int) error {
	tokenURL, staticURL := base+"/oauth/token", base+"/static"
	if body, err := requestToken(c, staticURL); err != nil || strings.Contains(body, "access_token") {
		return fmt.Errorf("static baseline path: %q %v", body, err)
	}
	hammer(c, staticURL, conc, dur/2)
	hammer(c, tokenURL, conc, dur/2)

	sign := func() (int64, error) {
		rate, err := measureSigning(signDur)
		return int64(rate * signDur.Seconds()), err
	}
	load := func(u string) func() (int64, error) {
		return func() (int64, error) {
			ok, failed := hammer(c, u, conc, dur)
			if failed > 0 {
				return ok, fmt.Errorf("%s: %d requests failed", u, failed)
			}
			return ok, nil
		}
	}
	fmt.Printf("\n%-6s %10s %10s %10s | %10s %10s %10s | %8s %8s\n", "round",
		"sign", "static", "token", "sign CPU", "static CPU", "token CPU", "wall", "CPU")
	var wallRatios, cpuRatios []float64
	var tot [3]phase
	for i := 1; i <= rounds; i++ {
		var ph [3]phase
		fs := [3]func() (int64, error){sign, load(staticURL), load(tokenURL)}
		order := []int{0, 1, 2}
		if i%2 == 0 { // alternate the order so drift favours no phase
			order = []int{2, 1, 0}
		}
		for _, k := range order {
			p, err := measured(fs[k])
			if err != nil {
				return err
			}
			ph[k] = p
			tot[k].n += p.n
			tot[k].wall += p.wall
			tot[k].cpu += p.cpu
		}
		w := float64(ph[2].wallPer()) / float64(ph[0].wallPer()+ph[1].wallPer())
		cr := float64(ph[2].cpuPer()) / float64(ph[0].cpuPer()+ph[1].cpuPer())
		wallRatios, cpuRatios = append(wallRatios, w), append(cpuRatios, cr)
		fmt.Printf("%-6d %10s %10s %10s | %10s %10s %10s | %8.3f %8.3f\n", i,
			ph[0].wallPer(), ph[1].wallPer(), ph[2].wallPer(), ph[0].cpuPer(), ph[1].cpuPer(), ph[2].cpuPer(), w, cr)
	}
	fmt.Printf("%-6s %10s %10s %10s | %10s %10s %10s\n", "total",
		tot[0].wallPer(), tot[1].wallPer(), tot[2].wallPer(), tot[0].cpuPer(), tot[1].cpuPer(), tot[2].cpuPer())
	fmt.Printf("(wall columns: machine time per operation, i.e. 1 / rate; CPU: process CPU per operation)\n")
	fmt.Printf("rates (totals): %.0f signatures/s, %.0f static requests/s, %.0f tokens/s\n",
		float64(tot[0].n)/tot[0].wall.Seconds(), float64(tot[1].n)/tot[1].wall.Seconds(), float64(tot[2].n)/tot[2].wall.Seconds())
	slices.Sort(wallRatios)
	slices.Sort(cpuRatios)
	for _, x := range []struct {
		name string
		r    []float64
	}{{"wall", wallRatios}, {"CPU", cpuRatios}} {
		m := median(x.r)
		verdict := "meets"
		if m > 1.1 {
			verdict = "MISSES"
		}
		fmt.Printf("token / (static + signature), %s: median %.3f (range %.3f-%.3f): %s the 1.1 target\n",
			x.name, m, x.r[0], x.r[len(x.r)-1], verdict)
	}
	if profileFile != "" {
		return profileTokens(c, tokenURL, conc, dur)
	}
	return nil
}

// profileFile, if set, receives a CPU profile of one extra token phase.
var profileFile string

func profileTokens(c *http.Client, tokenURL string, conc int, dur time.Duration) error {
	f, err := os.Create(profileFile)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	ok, _ := hammer(c, tokenURL, conc, dur)
	pprof.StopCPUProfile()
	fmt.Printf("cpu profile of an extra token phase (%d tokens) written to %s\n", ok, profileFile)
	return nil
}

// median of sorted values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
