package memory

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/authgate/caddy-authgate/store"
)

// PutSession implements store.SessionStore.
func (s *Store) PutSession(ctx context.Context, sess store.Session) error {
	key, err := store.CheckSession(sess)
	if err != nil {
		return err
	}
	data, err := store.Encode("session", sess, s.maxRecord)
	if err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.sessions[string(key)] = expiring{data: data, until: sess.ExpiresAt}
	return nil
}

// GetSession implements store.SessionStore.
func (s *Store) GetSession(ctx context.Context, kind, id string) (store.Session, error) {
	key, err := store.SessionKey(kind, id)
	if err != nil {
		return store.Session{}, err
	}
	if err := s.lock(ctx); err != nil {
		return store.Session{}, err
	}
	r, ok := s.sessions[string(key)]
	s.mu.Unlock()
	if !ok || store.Expired(r.until, s.now()) {
		return store.Session{}, store.ErrNotFound
	}
	var sess store.Session
	if err := json.Unmarshal(r.data, &sess); err != nil {
		return store.Session{}, fmt.Errorf("memory: corrupt session record: %w", err)
	}
	return sess, nil
}

// DeleteSession implements store.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, kind, id string) error {
	key, err := store.SessionKey(kind, id)
	if err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.sessions, string(key))
	return nil
}
