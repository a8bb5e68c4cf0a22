package token

import "testing"

// FuzzClientCertHeader: an RFC 9440 Client-Cert value from a proxy never
// panics the parser; what it accepts is a certificate.
func FuzzClientCertHeader(f *testing.F) {
	f.Add(":MIIB:")
	f.Add("::")
	f.Add(":" + "A" + ":")
	f.Fuzz(func(t *testing.T, v string) {
		if c, err := ParseClientCertHeader(v); err == nil && c == nil {
			t.Fatal("no certificate and no error")
		}
	})
}

// FuzzPeekJWT: the unverified peek at a client assertion never panics and
// refuses oversized input.
func FuzzPeekJWT(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJhIn0.c2ln")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		alg, _, _, err := PeekJWT(tok, 8<<10)
		if err == nil && (len(tok) > 8<<10 || !KnownAlgorithm(alg)) {
			t.Fatalf("accepted %q (alg %q)", tok, alg)
		}
	})
}
