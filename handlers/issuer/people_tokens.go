package issuer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// Admission errors of users' tokens.
var (
	ErrUnknownUser  = errors.New("token's user is not registered")
	ErrUserDisabled = errors.New("token's user is disabled")
)

// userAdmissible refuses the token of a user who is unknown (removed) or
// disabled. Config and users-file users are looked up in memory; store
// users are read from the store.
func (i *Issuer) userAdmissible(name string) error {
	e, err := i.findUser(context.Background(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrUnknownUser
	case err != nil:
		return err
	case e.user.Disabled:
		return ErrUserDisabled
	}
	return nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// username is the introspection username of a user's token.
func (t *tokenInfo) username() string {
	if t.authTime == 0 {
		return ""
	}
	return t.subject
}

// revokeRefresh revokes the family of a refresh token the client holds (RFC
// 7009 §2.1: revoking a refresh token revokes the tokens of the same
// authorization). handled is false when tok is no refresh token of ours;
// another client's token is handled and left alone.
func (i *Issuer) revokeRefresh(ctx context.Context, c *client, tok string) (handled bool, err error) {
	if len(tok) != codeLength || !isBase64URL(tok) {
		return false, nil
	}
	rec, err := i.store.GetRefresh(ctx, i.refreshHash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if rec.ClientID != c.id {
		i.logger.LogAttrs(ctx, slog.LevelInfo, "ignored revocation of another client's refresh token", slog.String("client_id", c.id))
		return true, nil
	}
	until := rec.FamilyEndsAt.Add(i.maxTTL + token.MaxLeeway)
	if err := i.revokeFamily(ctx, rec.FamilyID, until); err != nil {
		return true, err
	}
	i.logger.LogAttrs(ctx, slog.LevelInfo, "refresh token revoked with its family", slog.String("client_id", c.id), slog.String("family", rec.FamilyID))
	return true, nil
}
