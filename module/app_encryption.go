package module

import (
	"fmt"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/authgate/caddy-authgate/store"
)

// provisionKeyring resolves and parses encryption_key and
// previous_encryption_key.
func (a *App) provisionKeyring() error {
	if a.EncryptionKey == "" {
		if len(a.PreviousEncryptionKeys) > 0 {
			return fmt.Errorf("authgate: previous_encryption_key needs an encryption_key")
		}
		return nil
	}
	repl := caddy.NewReplacer()
	parse := func(what, v string) ([]byte, error) {
		s, err := repl.ReplaceOrErr(v, true, true)
		if err != nil {
			return nil, fmt.Errorf("authgate: %s: %w", what, err)
		}
		k, err := store.ParseKEK(s)
		if err != nil {
			return nil, fmt.Errorf("authgate: %s: %w", what, err)
		}
		return k, nil
	}
	cur, err := parse("encryption_key", a.EncryptionKey)
	if err != nil {
		return err
	}
	var prev [][]byte
	for _, v := range a.PreviousEncryptionKeys {
		k, err := parse("previous_encryption_key", v)
		if err != nil {
			return err
		}
		prev = append(prev, k)
	}
	a.keyring, err = store.NewKeyring(cur, prev...)
	return err
}

// noKEKWarned: the missing-KEK warning is logged once per process and
// storage, not on every reload.
var noKEKWarned sync.Map

// encrypted wraps the shared engine with this config's keyring (the
// wrapper holds no state, so configs with different keys may share an
// engine). Without a keyring it warns once: secrets are stored in the
// clear, and encrypted records are refused rather than served.
func (a *App) encrypted(e store.Engine) store.Engine {
	if a.keyring == nil {
		if _, done := noKEKWarned.LoadOrStore(a.storage.StorageKey(), true); !done {
			a.logger.Warn("no authgate encryption_key: private signing keys and sessions are stored unencrypted",
				zap.String("storage", a.storage.StorageKey()))
		}
	}
	return store.Encrypted(e, a.keyring)
}
