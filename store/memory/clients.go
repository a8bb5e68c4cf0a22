package memory

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/authgate/caddy-authgate/store"
)

// ClientsVersion implements store.ClientStore.
func (s *Store) ClientsVersion(ctx context.Context) (uint64, error) {
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return s.clientsVer, nil
}

// UpdateClient implements store.ClientStore; fn runs under the engine's
// mutex, so it must not call back into the store.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(current *store.Client) (*store.Client, error)) (*store.Client, error) {
	if fn == nil {
		return nil, errors.New("store: nil update function")
	}
	if err := store.CheckKey("client id", []byte(id)); err != nil {
		return nil, err
	}
	if err := s.lockWrite(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var cur *store.Client
	if data, ok := s.clients[id]; ok {
		cur = new(store.Client)
		if err := json.Unmarshal(data, cur); err != nil {
			return nil, err
		}
	}
	next, err := fn(cur)
	if err != nil {
		return nil, err
	}
	if next == nil {
		if cur != nil {
			delete(s.clients, id)
			s.clientsVer++
		}
		return nil, nil
	}
	if next.ID != id {
		return nil, fmt.Errorf("store: update of client %q returned client %q", id, next.ID)
	}
	data, err := store.Encode("client", next, s.maxRecord)
	if err != nil {
		return nil, err
	}
	s.clients[id] = data
	s.clientsVer++
	var stored store.Client
	if err := json.Unmarshal(data, &stored); err != nil {
		return nil, err
	}
	return &stored, nil
}

// SetNotBefore implements store.NotBeforeStore.
func (s *Store) SetNotBefore(ctx context.Context, nb store.NotBefore) error {
	if err := store.CheckNotBefore(nb); err != nil {
		return err
	}
	if _, err := store.Encode("not-before", nb, s.maxRecord); err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	key := string(store.NotBeforeKey(nb.Issuer, nb.Kind, nb.ID))
	if old, ok := s.notBefore[key]; ok && !store.Expired(old.Until, s.now()) {
		nb = store.MergeNotBefore(old, nb)
	}
	s.notBefore[key] = nb
	return nil
}

// NotBefores implements store.NotBeforeStore.
func (s *Store) NotBefores(ctx context.Context, issuer string) ([]store.NotBefore, error) {
	if err := store.CheckKey("issuer", []byte(issuer)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	prefix := store.NotBeforePrefix(issuer)
	now := s.now()
	var out []store.NotBefore
	for k, nb := range s.notBefore {
		if bytes.HasPrefix([]byte(k), prefix) && !store.Expired(nb.Until, now) {
			out = append(out, nb)
		}
	}
	slices.SortFunc(out, func(a, b store.NotBefore) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}
