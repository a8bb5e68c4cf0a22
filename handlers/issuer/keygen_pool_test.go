package issuer

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authgate/caddy-authgate/token"
)

// TestMain hands the key managers RSA keys from testdata/rsa-keys.pem
// (made with openssl, used nowhere else) instead of generating 2048-bit keys:
// every issuer of these tests keeps an RS256 ID-token key, and generating
// them took 87 % of the package's CPU. The keys are handed out in turn, so
// two keys made one after the other always differ, as generated ones would.
// Other algorithms are still generated; token's TestGenerateKey and every
// issuer of ./integration cover real RSA generation.
func TestMain(m *testing.M) {
	pool, err := loadRSAPool("testdata/rsa-keys.pem")
	if err != nil {
		panic(err)
	}
	var next atomic.Uint64
	generateKey = func(alg string) (any, error) {
		if strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS") {
			return pool[(next.Add(1)-1)%uint64(len(pool))], nil
		}
		return token.GenerateKey(alg)
	}
	os.Exit(m.Run())
}

func loadRSAPool(path string) ([]*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pool []*rsa.PrivateKey
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		pool = append(pool, k.(*rsa.PrivateKey))
	}
	return pool, nil
}
