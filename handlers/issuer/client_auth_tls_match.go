package issuer

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// TLSClientAuthMatch is the one certificate attribute tls_client_auth
// compares (RFC 8705 §2.1.2).
type TLSClientAuthMatch struct {
	// Attribute is subject_dn, san_dns, san_uri, san_ip or san_email.
	Attribute string
	// Value is the expected value: an RFC 4514 DN, a DNS name, a URI, an IP
	// address or an e-mail address.
	Value string
}

// TLS client certificate attributes.
const (
	CertSubjectDN = "subject_dn"
	CertSANDNS    = "san_dns"
	CertSANURI    = "san_uri"
	CertSANIP     = "san_ip"
	CertSANEmail  = "san_email"
)

// certMatcher decides whether a certificate has the configured attribute.
type certMatcher struct {
	attr  string
	value string
	ip    netip.Addr
	dn    []dnRDN // subject_dn, in certificate (RDNSequence) order
}

// CheckTLSClientAuth validates an attribute and value (the Caddyfile
// parser calls it too, for an error with file:line).
func CheckTLSClientAuth(attr, value string) error {
	_, err := newCertMatcher(attr, value)
	return err
}

func newCertMatcher(attr, value string) (*certMatcher, error) {
	m := &certMatcher{attr: attr, value: value}
	if value == "" {
		return nil, errors.New("tls_client_auth needs a value")
	}
	switch attr {
	case CertSANDNS, CertSANURI, CertSANEmail:
	case CertSANIP:
		ip, err := netip.ParseAddr(value)
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("tls_client_auth san_ip %q is not an IP address", value)
		}
		m.ip = ip.Unmap()
	case CertSubjectDN:
		dn, err := parseDN(value)
		if err != nil {
			return nil, fmt.Errorf("tls_client_auth subject_dn %q: %w", value, err)
		}
		m.dn = dn
	default:
		return nil, fmt.Errorf("tls_client_auth attribute %q must be subject_dn, san_dns, san_uri, san_ip or san_email", attr)
	}
	return m, nil
}

// matches compares as RFC 8705 §2.1.2 says: a DNS name case-insensitively
// (and literally: a wildcard certificate is not every name it covers), a
// URI exactly, an IP address by its bytes, an e-mail address with its
// domain case-insensitive, the subject DN RDN by RDN with case-insensitive
// values and insignificant spaces ignored (distinguishedNameMatch with
// caseIgnoreMatch, RFC 4517).
func (m *certMatcher) matches(cert *x509.Certificate) bool {
	switch m.attr {
	case CertSANDNS:
		for _, n := range cert.DNSNames {
			if strings.EqualFold(n, m.value) {
				return true
			}
		}
	case CertSANURI:
		for _, u := range cert.URIs {
			if u.String() == m.value {
				return true
			}
		}
	case CertSANIP:
		for _, ip := range cert.IPAddresses {
			if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == m.ip {
				return true
			}
		}
	case CertSANEmail:
		for _, e := range cert.EmailAddresses {
			if emailEqual(e, m.value) {
				return true
			}
		}
	case CertSubjectDN:
		return dnEqual(m.dn, cert.Subject.ToRDNSequence())
	}
	return false
}

func emailEqual(a, b string) bool {
	ia, ib := strings.LastIndexByte(a, '@'), strings.LastIndexByte(b, '@')
	if ia < 0 || ib < 0 {
		return a == b
	}
	return a[:ia] == b[:ib] && strings.EqualFold(a[ia:], b[ib:])
}

// dnRDN is one relative distinguished name: its attributes (a set).
type dnRDN []dnAttr

type dnAttr struct {
	oid   asn1.ObjectIdentifier
	value string // normalised (see normDNValue)
}

// dnAttrTypes are RFC 4514 §3's names, plus emailAddress (common in
// client certificates).
var dnAttrTypes = map[string]asn1.ObjectIdentifier{
	"CN": {2, 5, 4, 3}, "L": {2, 5, 4, 7}, "ST": {2, 5, 4, 8}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11},
	"C": {2, 5, 4, 6}, "STREET": {2, 5, 4, 9}, "SERIALNUMBER": {2, 5, 4, 5},
	"DC": {0, 9, 2342, 19200300, 100, 1, 25}, "UID": {0, 9, 2342, 19200300, 100, 1, 1},
	"EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1}, "E": {1, 2, 840, 113549, 1, 9, 1},
}

// maxDNBytes bounds a configured DN.
const maxDNBytes = 4096

// parseDN parses an RFC 4514 string ("CN=device-17,O=Example"; escapes \,
// \+ \" \\ \< \> \; \= and \HH). The string lists the RDNs last first; the
// result is in certificate order. The #hex (BER) form is not accepted.
func parseDN(s string) ([]dnRDN, error) {
	if len(s) > maxDNBytes {
		return nil, errors.New("too long")
	}
	var rdns []dnRDN
	var cur dnRDN
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, errors.New("expected type=value")
		}
		typ := strings.TrimSpace(s[:eq])
		oid, err := dnAttrOID(typ)
		if err != nil {
			return nil, err
		}
		s = s[eq+1:]
		val, rest, sep, err := dnValue(s)
		if err != nil {
			return nil, err
		}
		cur = append(cur, dnAttr{oid: oid, value: normDNValue(val)})
		s = rest
		if sep != '+' {
			rdns = append(rdns, cur)
			cur = nil
		}
		if sep != 0 && s == "" {
			return nil, errors.New("trailing separator")
		}
	}
	if len(rdns) == 0 {
		return nil, errors.New("empty")
	}
	for l, r := 0, len(rdns)-1; l < r; l, r = l+1, r-1 {
		rdns[l], rdns[r] = rdns[r], rdns[l]
	}
	return rdns, nil
}

func dnAttrOID(typ string) (asn1.ObjectIdentifier, error) {
	if oid, ok := dnAttrTypes[strings.ToUpper(typ)]; ok {
		return oid, nil
	}
	var oid asn1.ObjectIdentifier
	for _, part := range strings.Split(typ, ".") {
		n := 0
		if part == "" || len(part) > 9 {
			return nil, fmt.Errorf("unknown attribute type %q", typ)
		}
		for _, c := range part {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("unknown attribute type %q", typ)
			}
			n = n*10 + int(c-'0')
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("unknown attribute type %q", typ)
	}
	return oid, nil
}

// dnValue reads one attribute value up to an unescaped ',' or '+' (sep),
// unescaping it.
func dnValue(s string) (val, rest string, sep byte, err error) {
	if strings.HasPrefix(strings.TrimLeft(s, " "), "#") {
		return "", "", 0, errors.New("the #hex value form is not supported")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ',', '+':
			return b.String(), s[i+1:], c, nil
		case '\\':
			if i+1 >= len(s) {
				return "", "", 0, errors.New("dangling escape")
			}
			n := s[i+1]
			if isHex(n) && i+2 < len(s) && isHex(s[i+2]) {
				b.WriteByte(unhex(n)<<4 | unhex(s[i+2]))
				i += 2
				continue
			}
			if !strings.ContainsRune(` "#+,;<=>\`, rune(n)) {
				return "", "", 0, fmt.Errorf("invalid escape \\%c", n)
			}
			b.WriteByte(n)
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), "", 0, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// normDNValue applies caseIgnoreMatch's preparation: leading, trailing and
// repeated inner spaces are insignificant, case is ignored.
func normDNValue(v string) string {
	return strings.ToLower(strings.Join(strings.Fields(v), " "))
}

// dnEqual compares a configured DN with a certificate's subject: the same
// RDNs in the same order, each the same set of attributes.
func dnEqual(want []dnRDN, have pkix.RDNSequence) bool {
	if len(want) != len(have) {
		return false
	}
	for i, rdn := range have {
		if len(rdn) != len(want[i]) {
			return false
		}
		// Each configured attribute pairs with one of the certificate's:
		// CN=a+CN=a is not CN=a+CN=b.
		used := make([]bool, len(want[i]))
		for _, atv := range rdn {
			s, ok := atv.Value.(string)
			if !ok {
				return false
			}
			v := normDNValue(s)
			found := false
			for j, w := range want[i] {
				if !used[j] && w.oid.Equal(atv.Type) && w.value == v {
					used[j], found = true, true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}
