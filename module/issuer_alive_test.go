package module

import "testing"

// Two configs' issuers of one URL overlap during a reload: the URL counts as
// in-process until the last of them is cleaned up, and releasing twice does
// not end another config's hold.
func TestAliveIssuerUntilLastRelease(t *testing.T) {
	const url = "https://alive.example"
	if aliveIssuerGone(url) != nil {
		t.Fatal("alive before any issuer started")
	}
	oldCfg := holdAliveIssuer(url)
	newCfg := holdAliveIssuer(url)
	gone := aliveIssuerGone(url)
	if gone == nil {
		t.Fatal("not alive after two starts")
	}
	oldCfg()
	oldCfg() // a second Cleanup must not release the new config's hold
	if closed(gone) || aliveIssuerGone(url) == nil {
		t.Fatal("gone while the new config's issuer is alive")
	}
	newCfg()
	if !closed(gone) || aliveIssuerGone(url) != nil {
		t.Fatal("still alive after the last release")
	}
}
