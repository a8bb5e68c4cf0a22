package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KEKSize is the size of a key-encryption key: AES-256.
const KEKSize = 32

// encMagic starts every value the encrypting engine writes: version 1,
// then the 4-byte id of the KEK, the 12-byte nonce and the AES-GCM
// ciphertext with its tag.
var encMagic = []byte("agkek1")

// ErrNoKEK is returned when a record is encrypted under a KEK that is not
// configured (neither encryption_key nor previous_encryption_key).
var ErrNoKEK = errors.New("store: record is encrypted under a key-encryption key that is not configured")

// Keyring holds the current key-encryption key (which encrypts) and older
// ones (which only decrypt, during a KEK rotation).
type Keyring struct {
	current *kek
	all     map[[4]byte]*kek
}

type kek struct {
	id   [4]byte
	aead cipher.AEAD
}

// ParseKEK decodes a key-encryption key: 32 bytes as standard or URL-safe
// base64 (with or without padding) or as 64 hex digits.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KEKSize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KEKSize {
				return nil, fmt.Errorf("store: encryption key is %d bytes, want %d (generate one with: openssl rand -base64 32)", len(b), KEKSize)
			}
			return b, nil
		}
	}
	return nil, errors.New("store: encryption key is neither base64 nor hex (generate one with: openssl rand -base64 32)")
}

// NewKeyring returns a keyring that encrypts with current and decrypts with
// current and every one of previous.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	kr := &Keyring{all: map[[4]byte]*kek{}}
	for i, raw := range append([][]byte{current}, previous...) {
		if len(raw) != KEKSize {
			return nil, fmt.Errorf("store: encryption key %d is %d bytes, want %d", i, len(raw), KEKSize)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append([]byte("authgate-kek-id\x00"), raw...))
		k := &kek{aead: aead}
		copy(k.id[:], sum[:4])
		if i == 0 {
			kr.current = k
		}
		if _, dup := kr.all[k.id]; !dup {
			kr.all[k.id] = k
		}
	}
	return kr, nil
}

// seal encrypts plaintext bound to aad (the record's identity, so a
// ciphertext moved to another record does not decrypt).
func (kr *Keyring) seal(plaintext []byte, aad string) []byte {
	k := kr.current
	out := make([]byte, 0, len(encMagic)+4+12+len(plaintext)+16)
	out = append(out, encMagic...)
	out = append(out, k.id[:]...)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, []byte(aad))
}

// open decrypts a sealed value. A value without the magic prefix was
// written before encryption was configured and is returned as it is (it
// is encrypted when next written).
func (kr *Keyring) open(v []byte, aad string) ([]byte, error) {
	if !bytes.HasPrefix(v, encMagic) {
		return v, nil
	}
	rest := v[len(encMagic):]
	if len(rest) < 4+12+16 {
		return nil, errors.New("store: truncated encrypted record")
	}
	var id [4]byte
	copy(id[:], rest)
	k := kr.all[id]
	if k == nil {
		return nil, ErrNoKEK
	}
	pt, err := k.aead.Open(nil, rest[4:16], rest[16:], []byte(aad))
	if err != nil {
		return nil, errors.New("store: encrypted record does not decrypt (wrong key, or tampered)")
	}
	return pt, nil
}

// Encrypted wraps an engine so that what is secret in it is encrypted at
// rest with AES-256-GCM under the keyring's current KEK: signing keys'
// private halves and session data. Everything else passes through (token,
// code, refresh-token and family records are keyed by hashes and hold no
// secret; client secrets and user passwords are stored hashed). A new role whose records hold a
// secret overrides its put and get methods here, like sessions.
//
// With a nil keyring it still refuses to return encrypted records as if
// they were plain (ErrNoKEK): a store written with a KEK does not silently
// serve ciphertext when the key is missing from the config.
func Encrypted(e Engine, kr *Keyring) Engine { return &encrypted{Engine: e, kr: kr} }

type encrypted struct {
	Engine
	kr *Keyring
}

// Unwrap returns the wrapped engine.
func (c *encrypted) Unwrap() Engine { return c.Engine }

func (c *encrypted) seal(v []byte, aad string) []byte {
	if c.kr == nil {
		return v
	}
	return c.kr.seal(v, aad)
}

func (c *encrypted) open(v []byte, aad string) ([]byte, error) {
	if c.kr == nil {
		if bytes.HasPrefix(v, encMagic) {
			return nil, ErrNoKEK
		}
		return v, nil
	}
	return c.kr.open(v, aad)
}

func signingKeyAAD(issuer, id string) string { return "signing-key\x00" + issuer + "\x00" + id }

func (c *encrypted) openKeys(issuer string, keys []SigningKey) ([]SigningKey, error) {
	out := make([]SigningKey, len(keys))
	for i, k := range keys {
		pt, err := c.open(k.Private, signingKeyAAD(issuer, k.ID))
		if err != nil {
			return nil, fmt.Errorf("signing key %q: %w", k.ID, err)
		}
		k.Private = pt
		out[i] = k
	}
	return out, nil
}

// SigningKeys decrypts the private keys.
func (c *encrypted) SigningKeys(ctx context.Context, issuer string) ([]SigningKey, error) {
	keys, err := c.Engine.SigningKeys(ctx, issuer)
	if err != nil {
		return nil, err
	}
	return c.openKeys(issuer, keys)
}

// UpdateSigningKeys hands fn the decrypted keys and stores fn's result
// encrypted under the current KEK (every key, so a KEK rotation re-encrypts
// the keys at their next update).
func (c *encrypted) UpdateSigningKeys(ctx context.Context, issuer string, fn func(current []SigningKey) ([]SigningKey, error)) ([]SigningKey, error) {
	if fn == nil {
		return nil, errors.New("store: nil update function")
	}
	var plain []SigningKey
	_, err := c.Engine.UpdateSigningKeys(ctx, issuer, func(cur []SigningKey) ([]SigningKey, error) {
		opened, err := c.openKeys(issuer, cur)
		if err != nil {
			return nil, err
		}
		next, err := fn(opened)
		if err != nil {
			return nil, err
		}
		plain = append([]SigningKey(nil), next...)
		sealed := make([]SigningKey, len(next))
		for i, k := range next {
			if len(k.Private) > 0 {
				k.Private = c.seal(k.Private, signingKeyAAD(issuer, k.ID))
			}
			sealed[i] = k
		}
		return sealed, nil
	})
	if err != nil {
		return nil, err
	}
	for i := range plain {
		plain[i].Issuer = issuer
		plain[i].Private = bytes.Clone(plain[i].Private)
	}
	SortSigningKeys(plain)
	return plain, nil
}

func sessionAAD(kind, id string) string { return "session\x00" + kind + "\x00" + id }

// PutSession encrypts the session's data.
func (c *encrypted) PutSession(ctx context.Context, s Session) error {
	if len(s.Data) > 0 {
		s.Data = c.seal(s.Data, sessionAAD(s.Kind, s.ID))
	}
	return c.Engine.PutSession(ctx, s)
}

// GetSession decrypts the session's data.
func (c *encrypted) GetSession(ctx context.Context, kind, id string) (Session, error) {
	s, err := c.Engine.GetSession(ctx, kind, id)
	if err != nil {
		return Session{}, err
	}
	if len(s.Data) > 0 {
		if s.Data, err = c.open(s.Data, sessionAAD(kind, id)); err != nil {
			return Session{}, err
		}
	}
	return s, nil
}
