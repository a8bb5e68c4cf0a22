package module

import "sync"

// aliveIssuers counts, per issuer URL, the in-process issuers of every
// config still alive in this process: a reload starts the new config before
// the old one is cleaned up, and until then the old server may still answer
// on the same address. A gateway of the new config that trusts such a URL as
// an external issuer (the reload removed the authgate_issuer) must not
// discover the old in-process issuer's keys over HTTP in that window: it
// would then accept the removed issuer's tokens, revoked ones included, for
// as long as the fetched key set lives.
var aliveIssuers = struct {
	sync.Mutex
	m map[string]*aliveIssuer
}{m: map[string]*aliveIssuer{}}

type aliveIssuer struct {
	n    int
	gone chan struct{} // closed when n drops to 0
}

// holdAliveIssuer records an in-process issuer of url that started, and
// returns its release (safe to call more than once).
func holdAliveIssuer(url string) (release func()) {
	aliveIssuers.Lock()
	a := aliveIssuers.m[url]
	if a == nil {
		a = &aliveIssuer{gone: make(chan struct{})}
		aliveIssuers.m[url] = a
	}
	a.n++
	aliveIssuers.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			aliveIssuers.Lock()
			defer aliveIssuers.Unlock()
			if a.n--; a.n == 0 {
				delete(aliveIssuers.m, url)
				close(a.gone)
			}
		})
	}
}

// aliveIssuerGone returns a channel that is closed once no in-process
// issuer of url is alive any more, or nil when none is.
func aliveIssuerGone(url string) <-chan struct{} {
	aliveIssuers.Lock()
	defer aliveIssuers.Unlock()
	if a := aliveIssuers.m[url]; a != nil {
		return a.gone
	}
	return nil
}
