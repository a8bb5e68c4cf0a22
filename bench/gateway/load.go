package main

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// result is what one load phase against one site measured.
type result struct {
	ok, errs  int
	elapsed   time.Duration
	latencies []time.Duration // one per successful request
	firstErr  string          // status or error of the first failure
}

func (r result) rps() float64 { return float64(r.ok) / r.elapsed.Seconds() }

// loader drives one site: conns goroutines, each with its own keep-alive
// client (one connection each), reused across phases.
type loader struct {
	clients []*http.Client
	reqs    []*http.Request
}

func newLoader(addr, tok string, conns int) (*loader, error) {
	return newLoaderWith(addr, "Authorization", "Bearer "+tok, conns)
}

// newLoaderWith sends header name: value on every request.
func newLoaderWith(addr, name, value string, conns int) (*loader, error) {
	l := &loader{}
	for range conns {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		if err != nil {
			return nil, err
		}
		// Same header on both sites, so both do the same I/O.
		req.Header.Set(name, value)
		l.clients = append(l.clients, &http.Client{Transport: &http.Transport{
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		}})
		l.reqs = append(l.reqs, req)
	}
	return l, nil
}

// run issues requests from every goroutine until d has passed; a request
// in flight at the deadline completes and is counted.
func (l *loader) run(d time.Duration) result {
	type part struct {
		ok, errs int
		lat      []time.Duration
		firstErr string
	}
	parts := make([]part, len(l.clients))
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range l.clients {
		wg.Go(func() {
			p := &parts[i]
			p.lat = make([]time.Duration, 0, 1<<15)
			c, req := l.clients[i], l.reqs[i]
			for t0 := time.Now(); t0.Before(deadline); {
				resp, err := c.Do(req)
				status := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				t1 := time.Now()
				if status == http.StatusOK {
					p.ok++
					p.lat = append(p.lat, t1.Sub(t0))
				} else {
					p.errs++
					if p.firstErr == "" {
						if err != nil {
							p.firstErr = err.Error()
						} else {
							p.firstErr = resp.Status + " " + resp.Header.Get("WWW-Authenticate")
						}
					}
				}
				t0 = t1
			}
		})
	}
	wg.Wait()
	r := result{elapsed: time.Since(start)}
	for _, p := range parts {
		r = add(r, result{ok: p.ok, errs: p.errs, latencies: p.lat, firstErr: p.firstErr})
	}
	return r
}

func (l *loader) close() {
	for _, c := range l.clients {
		c.CloseIdleConnections()
	}
}
