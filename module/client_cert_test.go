package module

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/authgate/caddy-authgate/token"
)

func TestForwardedClientCert(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "c"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	hdr := ":" + base64.StdEncoding.EncodeToString(der) + ":"
	mk := func(trusted bool, values ...string) (*token.PeerCertificate, bool, error) {
		r := httptest.NewRequest("GET", "/", nil)
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: trusted}))
		for _, v := range values {
			r.Header.Add("Client-Cert", v)
		}
		out, err := forwardedClientCert(r, "Client-Cert")
		return token.ClientCertificate(out), out.Header.Get("Client-Cert") != "", err
	}
	if pc, kept, err := mk(true, hdr); err != nil || pc == nil || !pc.Verified || !pc.Forwarded || token.CertThumbprint(pc.Cert.Raw) != token.CertThumbprint(der) || !kept {
		t.Fatalf("trusted proxy: %+v kept=%v %v", pc, kept, err)
	}
	if pc, kept, err := mk(false, hdr); err != nil || pc != nil || kept {
		t.Fatalf("untrusted peer: %+v kept=%v %v", pc, kept, err)
	}
	if pc, _, err := mk(true); err != nil || pc != nil {
		t.Fatalf("trusted proxy without the header: %+v %v", pc, err)
	}
	for _, bad := range [][]string{{hdr, hdr}, {"nope"}, {":!!!:"}, {":" + strings.Repeat("A", 20000) + ":"}, {":AAAA:"}} {
		if _, _, err := mk(true, bad...); err == nil {
			t.Errorf("malformed header %.20q accepted", bad)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
	r.Header.Set("Client-Cert", hdr)
	stripUntrustedClientCert(r, "Client-Cert")
	if r.Header.Get("Client-Cert") != "" {
		t.Fatal("passed-on request kept a forged Client-Cert")
	}
}
