package issuer

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// A multi-valued RDN matches only the same set: a certificate whose RDN
// repeats one of the configured values (CN=a+CN=a) does not match
// CN=a+CN=b, nor does a configured repeat match two different values.
func TestDNMultiValuedRDNIsASet(t *testing.T) {
	cn := asn1.ObjectIdentifier{2, 5, 4, 3}
	rdn := func(vals ...string) pkix.RDNSequence {
		var set pkix.RelativeDistinguishedNameSET
		for _, v := range vals {
			set = append(set, pkix.AttributeTypeAndValue{Type: cn, Value: v})
		}
		return pkix.RDNSequence{set}
	}
	for _, tc := range []struct {
		want string
		have pkix.RDNSequence
		ok   bool
	}{
		{"CN=a+CN=b", rdn("b", "a"), true},
		{"CN=a+CN=b", rdn("a", "a"), false},
		{"CN=a+CN=a", rdn("a", "b"), false},
		{"CN=a+CN=a", rdn("a", "a"), true},
	} {
		want, err := parseDN(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		if got := dnEqual(want, tc.have); got != tc.ok {
			t.Errorf("%s vs %v: %v, want %v", tc.want, tc.have, got, tc.ok)
		}
	}
}
