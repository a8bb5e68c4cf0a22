package storetest

import (
	"crypto/sha256"
	"sort"
)

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hashOf is a token hash as the issuer makes one.
func hashOf(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
