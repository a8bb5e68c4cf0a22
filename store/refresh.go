package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// RefreshStore keeps refresh-token families. A family is everything issued
// from one authorization (one redeemed code): its access tokens and a chain
// of single-use refresh tokens, each spent when the next is issued. The
// family record lists the family's access tokens that are not revoked yet
// (their jtis), so revoking the family revokes them in the RevocationStore
// in the same transaction: reuse of a spent refresh token, a replayed code
// and an RFC 7009 revocation all end in RevokeFamily's state.
type RefreshStore interface {
	// StartFamily stores a new family (fam.Access lists the access token
	// the code exchange issued) and, when first is not nil, its first
	// refresh token (first.FamilyID must be fam.ID). When the family was
	// revoked before it started (the code was replayed between its
	// redemption and here) it revokes fam.Access in the same transaction,
	// stores no refresh token and returns ErrFamilyRevoked: the outcome is
	// the same as if the replay had come after.
	StartFamily(ctx context.Context, fam RefreshFamily, first *RefreshRecord) error
	// RotateRefresh spends the refresh token with this hash and stores its
	// successor, atomically; of concurrent callers (across instances) at
	// most one succeeds. It returns the spent token's record and the family
	// as it was before (its Access lists the tokens now revoked):
	//   - missing or expired token, or a family that is gone: ErrNotFound;
	//   - family revoked: ErrFamilyRevoked, nothing changes;
	//   - token already spent (reuse): the family is revoked as by
	//     RevokeFamily and ErrRefreshReused returned;
	//   - else next(old) builds the successor (its FamilyID is forced to
	//     the family's); an error from next aborts, nothing changes. The
	//     old token is spent, the family's listed access tokens are
	//     revoked (each until its RevokeUntil) and the successor's access
	//     token (next.AccessJTI) becomes the family's only listed one.
	// next must not call back into the store.
	RotateRefresh(ctx context.Context, hash []byte, next func(old RefreshRecord) (RefreshRecord, error)) (RefreshRecord, RefreshFamily, error)
	// GetRefresh returns a refresh token's record, spent or not;
	// ErrNotFound when it is missing or expired.
	GetRefresh(ctx context.Context, hash []byte) (RefreshRecord, error)
	// RevokeFamily marks the family revoked, revokes every access token it
	// lists (RevocationStore, same transaction) and returns the family as
	// it was before. A family not stored (yet) is recorded revoked until
	// `until`, so a late StartFamily fails. Revoking twice is harmless.
	RevokeFamily(ctx context.Context, id string, until time.Time) (RefreshFamily, error)
}

// Refresh-token errors.
var (
	// ErrFamilyRevoked: the family was revoked.
	ErrFamilyRevoked = errors.New("store: token family revoked")
	// ErrRefreshReused: a spent refresh token was presented again; the
	// family is revoked now.
	ErrRefreshReused = errors.New("store: refresh token reused; family revoked")
)

// RefreshRecord is one refresh token, stored under a hash of its value.
type RefreshRecord struct {
	Hash     []byte `json:"hash"`
	FamilyID string `json:"family_id"`
	ClientID string `json:"client_id"`
	// Subject is the user the family was issued to.
	Subject string `json:"sub"`
	// Scopes are what the token may be refreshed to (at most the
	// authorization's scopes; a refresh may narrow them for good).
	Scopes    []string  `json:"scopes,omitempty"`
	Audience  []string  `json:"aud,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	SessionID string    `json:"sid,omitempty"`
	IssuedAt  time.Time `json:"iat"`
	// ExpiresAt is the token's end: its own lifetime, never beyond the
	// family's absolute end (FamilyEndsAt).
	ExpiresAt    time.Time `json:"exp"`
	FamilyEndsAt time.Time `json:"family_ends_at"`
	// AccessJTI is the access token issued with this refresh token, and
	// AccessRevokeUntil how long its revocation must be kept.
	AccessJTI         string    `json:"access_jti,omitempty"`
	AccessRevokeUntil time.Time `json:"access_revoke_until,omitempty"`
	// JKT, when set, binds the token to a proof-of-possession key (the
	// RFC 7638 thumbprint of a DPoP key).
	JKT string `json:"jkt,omitempty"`
	// X5TS256, when set, binds the token to a client certificate (its
	// RFC 8705 x5t#S256 thumbprint): a public client's mTLS binding.
	X5TS256 string `json:"x5t_s256,omitempty"`
	// Spent is set by RotateRefresh.
	Spent bool `json:"spent,omitempty"`
}

// RefreshFamily is the record of one authorization's tokens.
type RefreshFamily struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id,omitempty"`
	Subject  string `json:"sub,omitempty"`
	// Access lists the family's access tokens not revoked yet.
	Access []FamilyAccess `json:"access,omitempty"`
	// Revoked is set by RevokeFamily (and by reuse).
	Revoked bool `json:"revoked,omitempty"`
	// ExpiresAt is when the record may be forgotten: after the family's
	// absolute end and every revocation it made.
	ExpiresAt time.Time `json:"expires_at"`
}

// FamilyAccess is an access token of a family.
type FamilyAccess struct {
	JTI string `json:"jti"`
	// RevokeUntil is how long a revocation of it must be kept (its exp
	// plus the largest gateway leeway).
	RevokeUntil time.Time `json:"revoke_until"`
}

// CheckRefresh validates a refresh token record for StartFamily and
// RotateRefresh.
func CheckRefresh(rec RefreshRecord) error {
	if err := CheckKey("refresh token hash", rec.Hash); err != nil {
		return err
	}
	if rec.FamilyID == "" {
		return errors.New("store: refresh token without family")
	}
	if rec.ExpiresAt.IsZero() {
		return errors.New("store: refresh token without expiry")
	}
	return nil
}

// CheckFamily validates a family record for StartFamily.
func CheckFamily(fam RefreshFamily) error {
	if err := CheckKey("family id", []byte(fam.ID)); err != nil {
		return err
	}
	if fam.ExpiresAt.IsZero() {
		return errors.New("store: family without expiry")
	}
	return nil
}

// The functions below are the state machine of RefreshStore, shared by the
// engines: each gets the decoded records and says what to write.

// StartFamilyPlan checks a StartFamily against the family already stored
// (nil when none).
func StartFamilyPlan(fam RefreshFamily, first *RefreshRecord, stored *RefreshFamily) error {
	if err := CheckFamily(fam); err != nil {
		return err
	}
	if first != nil {
		if err := CheckRefresh(*first); err != nil {
			return err
		}
		if first.FamilyID != fam.ID {
			return errors.New("store: first refresh token of another family")
		}
	}
	if stored != nil {
		if stored.Revoked {
			return ErrFamilyRevoked
		}
		return fmt.Errorf("store: family %q exists", fam.ID)
	}
	return nil
}

// LateStartPlan is what StartFamily writes for a family revoked before it
// started: the tombstone keeps its revocation, and the access tokens the
// exchange issued are revoked.
func LateStartPlan(fam RefreshFamily, stored RefreshFamily, now time.Time) Rotation {
	rot := RevokePlan(RefreshFamily{ID: stored.ID, ExpiresAt: stored.ExpiresAt, Access: fam.Access}, now)
	if rot.Family.ExpiresAt.Before(fam.ExpiresAt) {
		rot.Family.ExpiresAt = fam.ExpiresAt
	}
	return rot
}

// Rotation is what RotateRefresh writes.
type Rotation struct {
	// Old is the presented token, Spent now.
	Old RefreshRecord
	// Next is the successor; zero Hash on reuse.
	Next RefreshRecord
	// Family is the family record to write.
	Family RefreshFamily
	// Revoke are the access tokens to revoke.
	Revoke []FamilyAccess
}

// RotatePlan applies RotateRefresh's rules to the stored token and family
// (nil when missing) at now. A nil error or ErrRefreshReused means: write
// the Rotation.
func RotatePlan(old RefreshRecord, fam *RefreshFamily, now time.Time, next func(RefreshRecord) (RefreshRecord, error)) (Rotation, error) {
	if Expired(old.ExpiresAt, now) || fam == nil || Expired(fam.ExpiresAt, now) {
		return Rotation{}, ErrNotFound
	}
	if fam.Revoked {
		return Rotation{}, ErrFamilyRevoked
	}
	if old.Spent {
		return RevokePlan(*fam, now), ErrRefreshReused
	}
	n, err := next(old)
	if err != nil {
		return Rotation{}, err
	}
	n.FamilyID, n.Spent = old.FamilyID, false
	if err := CheckRefresh(n); err != nil {
		return Rotation{}, err
	}
	if string(n.Hash) == string(old.Hash) {
		return Rotation{}, errors.New("store: a refresh token cannot succeed itself")
	}
	old.Spent = true
	f := *fam
	f.Access = nil
	if n.AccessJTI != "" {
		f.Access = []FamilyAccess{{JTI: n.AccessJTI, RevokeUntil: n.AccessRevokeUntil}}
		if f.ExpiresAt.Before(n.AccessRevokeUntil) {
			f.ExpiresAt = n.AccessRevokeUntil
		}
	}
	if f.ExpiresAt.Before(n.ExpiresAt) {
		f.ExpiresAt = n.ExpiresAt
	}
	return Rotation{Old: old, Next: n, Family: f, Revoke: live(fam.Access, now)}, nil
}

// RevokePlan is the revoked state of fam (Old and Next unset).
func RevokePlan(fam RefreshFamily, now time.Time) Rotation {
	f := fam
	f.Revoked = true
	f.Access = nil
	return Rotation{Family: f, Revoke: live(fam.Access, now)}
}

// live drops the access tokens whose revocation would already be over.
func live(access []FamilyAccess, now time.Time) []FamilyAccess {
	return slices.DeleteFunc(slices.Clone(access), func(a FamilyAccess) bool {
		return a.JTI == "" || Expired(a.RevokeUntil, now)
	})
}
