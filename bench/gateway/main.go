// Command gateway measures what the authgate gateway costs in front of an
// app, through a real Caddy: it compares `reverse_proxy` alone (site A) with
// `authgate` + `reverse_proxy` (site B), both in one Caddy config, proxying
// to the same tiny upstream, in one run.
//
//	go run ./bench/gateway [-duration 5s] [-conns 16] [-rounds 3] [-cpuprofile gated.pprof]
//
// Caddy runs in a child process (this binary re-executed, see child.go);
// the upstream (net/http answering "ok") and a Go load generator (conns
// goroutines, each with its own keep-alive connection, GET in a loop) run
// in this one. Site B checks an ES256 token for
// issuer, audience and scope and forwards `sub` as X-User; every request
// carries the same token, so after the first one it is a verified-token cache
// hit: this measures the cached path, not signature verification. Site A
// gets the same Authorization header and ignores it.
//
// After a warm-up of each site, A and B alternate for -rounds rounds of
// -duration each (A,B then B,A, ...) so drift hits both alike. Around each
// phase the Caddy process's CPU time (getrusage in the child) is read, so
// each round also gives Caddy's CPU per request on A and on B: other
// sessions' load on shared cores moves throughput a lot and CPU per request
// much less, so the CPU ratio A/B is the steadier measure of what the
// gateway costs. With -session, site
// B signs browsers in through a fake OpenID provider in this process and the
// load carries one server-side session's cookie (both sites get it); the
// target is then 0.95. The report gives
// requests/s per round and in total, the ratio B/A (throughput kept with the
// gateway on; the target is >= 0.90), and p50/p99 latency per side. Client,
// Caddy and upstream share the same GOMAXPROCS cores, so the ratio is
// per-machine throughput of the whole setup, which is what a same-box
// deployment sees. Compare ratios across runs, not absolute requests/s.
//
// The exit status is non-zero only on errors (setup failures, or any
// non-200 answer during the measured rounds, e.g. tokens being refused);
// missing the target is reported, not fatal. -cpuprofile records one more
// site-B phase after the rounds (not part of the numbers) with the Caddy
// process under the CPU profiler.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

const target = 0.90

// sessionTarget is the bar for -session runs (a session must cost what a
// cached token costs).
const sessionTarget = 0.95

func main() {
	if len(os.Args) == 3 && os.Args[1] == childFlag {
		childMain(os.Args[2])
		return
	}
	duration := flag.Duration("duration", 5*time.Second, "length of each measured phase")
	conns := flag.Int("conns", 16, "concurrent keep-alive connections per site")
	rounds := flag.Int("rounds", 3, "A,B rounds")
	warmup := flag.Duration("warmup", time.Second, "warm-up per site before measuring")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of an extra site-B phase to `file`")
	session := flag.Bool("session", false, "site B signs browsers in (`login`) and serves a session cookie instead of a bearer token")
	flag.Parse()
	if *conns < 1 || *rounds < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -conns and -rounds must be >= 1, -duration > 0")
		os.Exit(2)
	}
	if err := run(*duration, *warmup, *conns, *rounds, *cpuprofile, *session); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(duration, warmup time.Duration, conns, rounds int, cpuprofile string, session bool) error {
	dir, err := os.MkdirTemp("", "authgate-bench-gateway-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	upstream, stopUpstream, err := startUpstream()
	if err != nil {
		return err
	}
	defer stopUpstream()
	keyFile, tok, err := newKeyAndToken(dir)
	if err != nil {
		return err
	}
	var op *fakeOP
	siteB, hdr, val, what := "", "Authorization", "Bearer "+tok, "ES256 token, cached after the first request"
	if session {
		var stopOP func()
		if op, stopOP, err = startOP(); err != nil {
			return err
		}
		defer stopOP()
		siteB, what = sessionSite(op), "browser session cookie, server-side session in bbolt"
	}
	s, child, err := startCaddy(dir, upstream, keyFile, siteB)
	if err != nil {
		return err
	}
	defer child.stop()
	if session {
		if val, err = op.signIn(s.gated); err != nil {
			return err
		}
		hdr = "Cookie"
	}

	a, err := newLoaderWith(s.plain, hdr, val, conns)
	if err != nil {
		return err
	}
	defer a.close()
	b, err := newLoaderWith(s.gated, hdr, val, conns)
	if err != nil {
		return err
	}
	defer b.close()

	fmt.Printf("GOMAXPROCS=%d %s/%s %s; conns=%d duration=%s rounds=%d warmup=%s\n",
		runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), conns, duration, rounds, warmup)
	fmt.Printf("A = reverse_proxy            http://%s\nB = authgate + reverse_proxy http://%s (%s)\n\n", s.plain, s.gated, what)

	if w := a.run(warmup); w.ok == 0 {
		return fmt.Errorf("warm-up A: no successful request (%s)", w.firstErr)
	}
	if w := b.run(warmup); w.ok == 0 {
		return fmt.Errorf("warm-up B: no successful request (%s)", w.firstErr)
	}

	// measure runs one phase and reads the Caddy process's CPU time around it.
	measure := func(l *loader) (result, time.Duration, error) {
		c0, err := child.cpu()
		if err != nil {
			return result{}, 0, err
		}
		r := l.run(duration)
		c1, err := child.cpu()
		return r, c1 - c0, err
	}
	var totA, totB result
	var cpuA, cpuB time.Duration
	var ratios, cpuRatios []float64
	fmt.Printf("%-7s %12s %12s %7s %14s %14s %9s\n", "round", "A req/s", "B req/s", "B/A",
		"A caddy CPU/req", "B caddy CPU/req", "A/B CPU")
	for i := 1; i <= rounds; i++ {
		var ra, rb result
		var ca, cb time.Duration
		var err error
		// The order alternates (AB, BA, ...) so drift within a round cancels too.
		if i%2 == 1 {
			if ra, ca, err = measure(a); err == nil {
				rb, cb, err = measure(b)
			}
		} else {
			if rb, cb, err = measure(b); err == nil {
				ra, ca, err = measure(a)
			}
		}
		if err != nil {
			return err
		}
		perA, perB := perReq(ca, ra.ok), perReq(cb, rb.ok)
		fmt.Printf("%-7d %12.0f %12.0f %7.3f %14s %14s %9.3f\n", i, ra.rps(), rb.rps(), rb.rps()/ra.rps(),
			perA, perB, float64(perA)/float64(perB))
		ratios = append(ratios, rb.rps()/ra.rps())
		cpuRatios = append(cpuRatios, float64(perA)/float64(perB))
		totA, totB = add(totA, ra), add(totB, rb)
		cpuA, cpuB = cpuA+ca, cpuB+cb
	}
	ratio := totB.rps() / totA.rps()
	perA, perB := perReq(cpuA, totA.ok), perReq(cpuB, totB.ok)
	cpuRatio := float64(perA) / float64(perB)
	fmt.Printf("%-7s %12.0f %12.0f %7.3f %14s %14s %9.3f\n\n", "total", totA.rps(), totB.rps(), ratio, perA, perB, cpuRatio)
	fmt.Printf("%-3s %10s %10s %10s %8s\n", "", "requests", "p50", "p99", "errors")
	for _, x := range []struct {
		name string
		r    result
	}{{"A", totA}, {"B", totB}} {
		slices.Sort(x.r.latencies)
		fmt.Printf("%-3s %10d %10s %10s %8d\n", x.name, x.r.ok,
			pct(x.r.latencies, 0.50), pct(x.r.latencies, 0.99), x.r.errs)
	}
	want := target
	if session {
		want = sessionTarget
	}
	verdict := func(r float64) string {
		if r < want {
			return "MISSES"
		}
		return "MEETS"
	}
	slices.Sort(ratios)
	slices.Sort(cpuRatios)
	fmt.Printf("\nthroughput ratio B/A = %.3f (median of rounds %.3f, range %.3f-%.3f): %s the %.2f target\n",
		ratio, median(ratios), ratios[0], ratios[len(ratios)-1], verdict(median(ratios)), want)
	fmt.Printf("Caddy CPU per request A/B = %.3f (median of rounds %.3f, range %.3f-%.3f): %s the %.2f target\n",
		cpuRatio, median(cpuRatios), cpuRatios[0], cpuRatios[len(cpuRatios)-1], verdict(median(cpuRatios)), want)
	fmt.Printf("(Caddy's own CPU per request: B costs %s more than A)\n", perB-perA)

	if totA.errs > 0 || totB.errs > 0 {
		return fmt.Errorf("non-200 answers during measurement: A %d (%s), B %d (%s)",
			totA.errs, totA.firstErr, totB.errs, totB.firstErr)
	}
	if cpuprofile != "" {
		return profileGated(child, b, duration, cpuprofile)
	}
	return nil
}

// profileGated runs one extra site-B phase with the Caddy process under
// its CPU profiler.
func profileGated(child *caddyChild, b *loader, d time.Duration, file string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if _, err := child.ask("profile " + abs); err != nil {
		return err
	}
	r := b.run(d)
	if _, err := child.ask("stopprofile"); err != nil {
		return err
	}
	fmt.Printf("cpu profile of Caddy during an extra B phase (%.0f req/s) written to %s\n", r.rps(), file)
	return nil
}

// perReq is CPU time per successful request.
func perReq(cpu time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return cpu / time.Duration(n)
}

// median of sorted values (the mean of the middle two for an even count).
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func add(t, r result) result {
	t.ok += r.ok
	t.errs += r.errs
	t.elapsed += r.elapsed
	t.latencies = append(t.latencies, r.latencies...)
	if t.firstErr == "" {
		t.firstErr = r.firstErr
	}
	return t
}

// pct is the q-quantile of sorted durations, rounded to the microsecond.
func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i].Round(time.Microsecond)
}
