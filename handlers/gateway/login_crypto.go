package gateway

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
)

// ticketBytes is the size of a session ticket, state, nonce and PKCE
// verifier entropy: 256 bits.
const ticketBytes = 32

var b64url = base64.RawURLEncoding.Strict()

// randomToken returns 256 random bits, base64url (43 characters).
func randomToken() string {
	var b [ticketBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (Go 1.24+)
	return b64url.EncodeToString(b[:])
}

// decodeTicket accepts exactly a base64url 256-bit value.
func decodeTicket(s string) ([]byte, bool) {
	if len(s) != 43 {
		return nil, false
	}
	b, err := b64url.DecodeString(s)
	if err != nil || len(b) != ticketBytes {
		return nil, false
	}
	return b, true
}

// derive hashes a label and a secret into 32 bytes. The labels keep the
// store id, the record key and other uses of one ticket independent: the
// store holds only the id, from which neither the ticket nor the key follows.
func derive(label string, secret []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("authgate-gateway/" + label + "\x00"))
	h.Write(secret)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// sessionID is the store id of a ticket: a hash, never the ticket.
func sessionID(ticket []byte) string {
	id := derive("session-id", ticket)
	return hex.EncodeToString(id[:])
}

// seal encrypts plaintext with AES-256-GCM under key, bound to aad: nonce ||
// ciphertext.
func seal(key [32]byte, plaintext, aad []byte) []byte {
	block, _ := aes.NewCipher(key[:])
	aead, _ := cipher.NewGCM(block)
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	_, _ = rand.Read(out)
	return aead.Seal(out, out, plaintext, aad)
}

var errSealed = errors.New("sealed value is invalid")

// open reverses seal; any change to the ciphertext, the key or aad fails.
func open(key [32]byte, sealed, aad []byte) ([]byte, error) {
	block, _ := aes.NewCipher(key[:])
	aead, _ := cipher.NewGCM(block)
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errSealed
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
	if err != nil {
		return nil, errSealed
	}
	return pt, nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
