// Command gateway measures what the authgate gateway costs in front of an
// app, through a real Caddy: it compares `reverse_proxy` alone (site A) with
// `authgate` + `reverse_proxy` (site B), both in one Caddy config, proxying
// to the same tiny upstream, in one run.
//
//	go run ./bench/gateway [-duration 5s] [-conns 16] [-rounds 3] [-cpuprofile gated.pprof]
//
// Everything runs in this one process: the upstream (net/http answering
// "ok"), Caddy, and a Go load generator (conns goroutines, each with its own
// keep-alive connection, GET in a loop). Site B checks an ES256 token for
// issuer, audience and scope and forwards `sub` as X-User; every request
// carries the same token, so after the first one it is a verified-token cache
// hit: this measures the cached path, not signature verification. Site A
// gets the same Authorization header and ignores it.
//
// After a warm-up of each site, A and B alternate for -rounds rounds of
// -duration each (A,B,A,B,...) so drift hits both alike. With -session, site
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
// site-B phase after the rounds (not part of the numbers) under the CPU
// profiler.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/authgate/caddy-authgate/bench/internal/harness"
)

const target = 0.90

// sessionTarget is the bar for -session runs (a session must cost what a
// cached token costs).
const sessionTarget = 0.95

func main() {
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
	s, err := startCaddy(dir, upstream, keyFile, siteB)
	if err != nil {
		return err
	}
	defer harness.StopCaddy()
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

	var totA, totB result
	var ratios []float64
	fmt.Printf("%-7s %12s %12s %7s\n", "round", "A req/s", "B req/s", "B/A")
	for i := 1; i <= rounds; i++ {
		ra := a.run(duration)
		rb := b.run(duration)
		fmt.Printf("%-7d %12.0f %12.0f %7.3f\n", i, ra.rps(), rb.rps(), rb.rps()/ra.rps())
		ratios = append(ratios, rb.rps()/ra.rps())
		totA = add(totA, ra)
		totB = add(totB, rb)
	}
	ratio := totB.rps() / totA.rps()
	fmt.Printf("%-7s %12.0f %12.0f %7.3f\n\n", "total", totA.rps(), totB.rps(), ratio)
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
	verdict := "MEETS"
	if ratio < want {
		verdict = "MISSES"
	}
	slices.Sort(ratios)
	fmt.Printf("\nthroughput ratio B/A = %.3f (median of rounds %.3f, range %.3f-%.3f): %s the %.2f target\n",
		ratio, ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1], verdict, want)

	if totA.errs > 0 || totB.errs > 0 {
		return fmt.Errorf("non-200 answers during measurement: A %d (%s), B %d (%s)",
			totA.errs, totA.firstErr, totB.errs, totB.firstErr)
	}
	if cpuprofile != "" {
		return profileGated(b, duration, cpuprofile)
	}
	return nil
}

// profileGated runs one extra site-B phase under the CPU profiler.
func profileGated(b *loader, d time.Duration, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	r := b.run(d)
	pprof.StopCPUProfile()
	fmt.Printf("cpu profile of an extra B phase (%.0f req/s) written to %s\n", r.rps(), file)
	return nil
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
