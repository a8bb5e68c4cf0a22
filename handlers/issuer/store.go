package issuer

import "github.com/authgate/caddy-authgate/store"

// Store is what the issuer keeps in storage, as the store roles it uses:
// its signing keys, opaque access tokens and revocations, and the clients
// registered at run time (read only, see clientRegistry), authorization
// codes and refresh-token families. module wires a
// storage engine in; tests use store/memory.
type Store interface {
	store.SigningKeyStore
	store.TokenStore
	store.RevocationStore
	store.ClientStore
	store.CodeStore
	store.RefreshStore
}
