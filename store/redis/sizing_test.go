package redis_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
	"github.com/authgate/caddy-authgate/store"
)

// TestSizing measures Redis memory per record (README "Sizing"): the
// used_memory growth over 5 000 records of each kind, as the issuer writes
// them (token hashes of 32 bytes, sessions with 300 bytes of data sealed by
// the encrypting wrapper, 22-character jtis; a refresh family as the
// code exchange starts it, then one rotation of each). It fails if a record costs
// more than the README promises.
func TestSizing(t *testing.T) {
	t.Parallel()
	if testutil.RaceEnabled {
		// .ci/run runs this test once more without -race.
		t.Skip("one goroutine's 40 000 round trips: ten times slower under -race, with nothing for it to find; run without -race")
	}
	srv := redisserver.Start(t, redisserver.Options{})
	e := openEngine(t, srv.Addr, "authgate:")
	kr, _ := store.NewKeyring(make([]byte, 32))
	enc := store.Encrypted(e, kr)
	ctx := context.Background()
	used := func() int64 {
		info, err := e.Client().Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no used_memory")
		return 0
	}
	const n = 5000
	until := time.Now().Add(time.Hour)
	hash := func(i int) []byte { h := sha256.Sum256([]byte(fmt.Sprint(i))); return h[:] }
	kinds := []struct {
		name  string
		limit int64
		put   func(i int) error
	}{
		{"opaque token", 700, func(i int) error {
			return e.PutToken(ctx, store.TokenRecord{Hash: hash(i), JTI: "0123456789abcdefghij" + strconv.Itoa(i%100), ClientID: "orders-service",
				Subject: "orders-service", Scopes: []string{"orders:read", "orders:write"}, IssuedAt: time.Now(), ExpiresAt: until})
		}},
		{"revocation", 400, func(i int) error { return e.Revoke(ctx, fmt.Sprintf("jti-%018d", i), until) }},
		{"single-use marker", 250, func(i int) error { _, err := e.MarkUsed(ctx, fmt.Sprintf("dpop:%032d", i), until); return err }},
		{"session (300 B data, encrypted)", 1100, func(i int) error {
			return enc.PutSession(ctx, store.Session{Kind: "sso", ID: fmt.Sprintf("%x", hash(i)), Subject: "alice",
				Data: []byte(strings.Repeat("d", 300)), ExpiresAt: until})
		}},
		{"authorization code", 1100, func(i int) error {
			return e.PutCode(ctx, store.CodeRecord{Hash: hash(i), ClientID: "web", RedirectURI: "https://app.example.com/callback",
				CodeChallenge: strings.Repeat("c", 43), Nonce: strings.Repeat("n", 22), Scopes: []string{"openid", "profile"},
				Subject: "alice", AuthTime: time.Now(), SessionID: strings.Repeat("s", 22), FamilyID: strings.Repeat("f", 22),
				RedeemBy: time.Now().Add(time.Minute), ExpiresAt: until})
		}},
		{"refresh family (family + first token)", 1300, func(i int) error {
			fam := store.RefreshFamily{ID: fmt.Sprintf("fam-%018d", i), ClientID: "web", Subject: "alice",
				Access: []store.FamilyAccess{{JTI: fmt.Sprintf("jti-a-%016d", i), RevokeUntil: until}}, ExpiresAt: until}
			return e.StartFamily(ctx, fam, refreshRecord(hash(i), fam.ID, fmt.Sprintf("jti-a-%016d", i), until))
		}},
		{"refresh rotation (+ token, + revocation)", 1400, func(i int) error {
			_, _, err := e.RotateRefresh(ctx, hash(i), func(old store.RefreshRecord) (store.RefreshRecord, error) {
				return *refreshRecord(hash(n+i), old.FamilyID, fmt.Sprintf("jti-b-%016d", i), until), nil
			})
			return err
		}},
		{"user", 500, func(i int) error {
			return e.PutUser(ctx, store.UserRecord{Name: fmt.Sprintf("user-%06d", i), Claims: map[string]any{"email": fmt.Sprintf("user-%06d@example.com", i)},
				PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$" + strings.Repeat("s", 22) + "$" + strings.Repeat("k", 43), CreatedAt: time.Now(), UpdatedAt: time.Now()})
		}},
	}
	for _, k := range kinds {
		before := used()
		for i := range n {
			if err := k.put(i); err != nil {
				t.Fatal(err)
			}
		}
		per := (used() - before) / n
		t.Logf("%-32s %4d bytes per record", k.name, per)
		if per > k.limit {
			t.Errorf("%s: %d bytes per record, more than the %d the README states", k.name, per, k.limit)
		}
	}
}

// refreshRecord is a refresh token as the issuer stores it.
func refreshRecord(hash []byte, family, accessJTI string, until time.Time) *store.RefreshRecord {
	return &store.RefreshRecord{Hash: hash, FamilyID: family, ClientID: "web", Subject: "alice",
		Scopes: []string{"openid", "profile", "orders:read"}, Audience: []string{"https://api.example.com"},
		AuthTime: time.Now(), SessionID: strings.Repeat("s", 22), IssuedAt: time.Now(), ExpiresAt: until, FamilyEndsAt: until,
		AccessJTI: accessJTI, AccessRevokeUntil: until}
}
