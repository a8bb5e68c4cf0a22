package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// childFlag runs this binary as the Caddy process: Caddy gets a process of
// its own so that its CPU time can be read apart from the load generator's
// and the upstream's, which other sessions' load on the shared cores does
// not move the way it moves wall-clock throughput.
const childFlag = "-caddy-child"

// caddyChild is the parent's handle on the Caddy process. Commands go over
// the child's stdin one per line, answers come back on its stdout.
type caddyChild struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startCaddyChild re-executes this binary with childFlag and the Caddyfile,
// and waits until Caddy serves.
func startCaddyChild(dir, caddyfile string) (*caddyChild, error) {
	file := dir + "/Caddyfile"
	if err := os.WriteFile(file, []byte(caddyfile), 0o600); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, childFlag, file)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &caddyChild{cmd: cmd, in: in, out: bufio.NewReader(outPipe)}
	if line, err := c.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		c.stop()
		return nil, fmt.Errorf("caddy child did not start: %q %v", line, err)
	}
	return c, nil
}

// ask sends one command and returns the child's one-line answer.
func (c *caddyChild) ask(cmd string) (string, error) {
	if _, err := fmt.Fprintln(c.in, cmd); err != nil {
		return "", err
	}
	line, err := c.out.ReadString('\n')
	line = strings.TrimSpace(line)
	if err == nil && strings.HasPrefix(line, "error ") {
		err = fmt.Errorf("caddy child: %s", line)
	}
	return line, err
}

// cpu is the Caddy process's user+system CPU time so far.
func (c *caddyChild) cpu() (time.Duration, error) {
	line, err := c.ask("cpu")
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(line, 10, 64)
	return time.Duration(ns), err
}

func (c *caddyChild) stop() {
	c.in.Close() // EOF: the child stops Caddy and exits
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// childMain is the Caddy process: load the Caddyfile, say "ready", then
// answer "cpu" (getrusage of this process, ns), "profile FILE" and
// "stopprofile" until stdin closes.
func childMain(file string) {
	src, err := os.ReadFile(file)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, nil)
	if err != nil {
		fmt.Println("error adapt Caddyfile:", err)
		os.Exit(1)
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "caddyfile warning: %s\n", w.String())
	}
	if err := caddy.Load(cfg, true); err != nil {
		fmt.Println("error start caddy:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	var prof *os.File
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "cpu":
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				fmt.Println("error", err)
				continue
			}
			fmt.Println(ru.Utime.Nano() + ru.Stime.Nano())
		case "profile":
			f, err := os.Create(arg)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			prof = f
			fmt.Println("ok")
		case "stopprofile":
			pprof.StopCPUProfile()
			if prof != nil {
				prof.Close()
			}
			fmt.Println("ok")
		default:
			fmt.Println("error unknown command", cmd)
		}
	}
	caddy.Stop()
}
