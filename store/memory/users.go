package memory

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/authgate/caddy-authgate/store"
)

// PutUser implements store.UserStore.
func (s *Store) PutUser(ctx context.Context, u store.UserRecord) error {
	if err := store.CheckKey("user name", []byte(u.Name)); err != nil {
		return err
	}
	data, err := store.Encode("user", u, s.maxRecord)
	if err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if s.users == nil {
		s.users = make(map[string][]byte)
	}
	s.users[u.Name] = data
	return nil
}

// GetUser implements store.UserStore.
func (s *Store) GetUser(ctx context.Context, name string) (store.UserRecord, error) {
	if err := store.CheckKey("user name", []byte(name)); err != nil {
		return store.UserRecord{}, err
	}
	if err := s.lock(ctx); err != nil {
		return store.UserRecord{}, err
	}
	data, ok := s.users[name]
	s.mu.Unlock()
	if !ok {
		return store.UserRecord{}, store.ErrNotFound
	}
	var u store.UserRecord
	err := json.Unmarshal(data, &u)
	return u, err
}

// DeleteUser implements store.UserStore.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	if err := store.CheckKey("user name", []byte(name)); err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.users, name)
	return nil
}

// Users implements store.UserStore.
func (s *Store) Users(ctx context.Context) ([]store.UserRecord, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.users))
	for n := range s.users {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []store.UserRecord
	for _, n := range names {
		var u store.UserRecord
		if err := json.Unmarshal(s.users[n], &u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}
