package issuer

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/authgate/caddy-authgate/token"
)

// serveRevoke implements RFC 7009. The caller authenticates as a registered
// client and may revoke only its own tokens; for anything else (unknown,
// expired, foreign, another client's) it gets 200 and nothing happens.
// Revoking a JWT records its jti until its exp plus token.MaxLeeway, and a
// JWT past its exp but within that window is still revoked (a gateway may
// accept it until exp + leeway); revoking an opaque token deletes it and
// records its jti the same way.
func (i *Issuer) serveRevoke(w http.ResponseWriter, r *http.Request, ip netip.Addr) {
	c, tok, ok := i.tokenRequest(w, r, ip)
	if !ok {
		return
	}
	if handled, err := i.revokeRefresh(r.Context(), c, tok); handled || err != nil {
		if err != nil {
			i.logger.LogAttrs(r.Context(), slog.LevelError, "refresh token revocation failed", slog.String("error", err.Error()))
			writeError(w, newError(http.StatusServiceUnavailable, "temporarily_unavailable", "revocation could not be recorded"), i.realm)
			return
		}
		setNoStore(w.Header())
		w.WriteHeader(http.StatusOK)
		return
	}
	info, err := i.resolveWithin(r.Context(), tok, token.MaxLeeway)
	switch {
	case errors.Is(err, errNotOurs):
	case err != nil:
		writeError(w, newError(http.StatusServiceUnavailable, "temporarily_unavailable", "token store unavailable"), i.realm)
		return
	case info.clientID != c.id:
		i.logger.LogAttrs(r.Context(), slog.LevelInfo, "ignored revocation of another client's token",
			slog.String("client_id", c.id), slog.String("jti", info.jti))
	default:
		if err := i.revoke(r.Context(), info); err != nil {
			i.logger.LogAttrs(r.Context(), slog.LevelError, "revocation failed", slog.String("jti", info.jti), slog.String("error", err.Error()))
			writeError(w, newError(http.StatusServiceUnavailable, "temporarily_unavailable", "revocation could not be recorded"), i.realm)
			return
		}
		i.logger.LogAttrs(r.Context(), slog.LevelInfo, "token revoked", slog.String("client_id", c.id), slog.String("jti", info.jti))
	}
	setNoStore(w.Header())
	w.WriteHeader(http.StatusOK)
}
