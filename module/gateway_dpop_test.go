package module

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The proof's htu is compared with the URI the client called: forwarded
// scheme and host count only from a trusted proxy.
func TestOriginalRequestURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted bool
		hdr     map[string]string
		want    string
	}{
		{"direct", false, nil, "http://api.example/orders"},
		{"untrusted forwarded", false, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, "http://api.example/orders"},
		{"trusted proxy", true, map[string]string{"X-Forwarded-Proto": "HTTPS", "X-Forwarded-Host": "public.example, inner"}, "https://public.example/orders"},
		{"trusted, odd proto", true, map[string]string{"X-Forwarded-Proto": "gopher"}, "http://api.example/orders"},
	} {
		r := httptest.NewRequest("GET", "http://api.example/orders?q=1", nil)
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: tc.trusted})
		r = r.WithContext(ctx)
		if got := originalRequestURL(r); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
