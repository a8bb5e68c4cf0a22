package token

import "testing"

func TestReconcileKeepsIdentityOfUnchangedKeys(t *testing.T) {
	k := newTestKeys(t)
	old := k.set(t)
	refetched := k.set(t).Keys()[:2] // same material, new objects; ed1 and hs1 gone
	merged, removed := Reconcile(old, refetched)
	for i, key := range merged.Keys() {
		if key != old.Keys()[i] {
			t.Fatalf("key %s got a new identity", key.ID)
		}
	}
	if len(removed) != 2 || removed[0].ID != "ed1" || removed[1].ID != "hs1" {
		t.Fatalf("removed = %v", removed)
	}
	other, _ := NewKey("ec1", "", &k.other.PublicKey, "x")
	if _, removed := Reconcile(old, []*Key{other}); len(removed) != 4 {
		t.Fatal("a different key under the same kid was taken for the old one")
	}
}

func TestLookupFallsBackToKeysWithoutID(t *testing.T) {
	k := newTestKeys(t)
	pemKey, _ := NewKey("", "", &k.ec.PublicKey, "key.pem")
	withID, _ := NewKey("jwks-1", "", &k.other.PublicKey, "jwks")
	set := NewKeySet(pemKey, withID)
	if got := set.Lookup("some-idp-kid", ES256); len(got) != 1 || got[0] != pemKey {
		t.Fatalf("token kid not in the set: got %v, want the kid-less key", got)
	}
	if got := set.Lookup("jwks-1", ES256); len(got) != 1 || got[0] != withID {
		t.Fatalf("kid present: got %v", got)
	}
	if got := set.Lookup("some-idp-kid", RS256); len(got) != 0 {
		t.Fatalf("fallback ignored the algorithm: %v", got)
	}
	tok := signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"some-idp-kid"}`, claimsJSON(""))
	if _, err := verifyAndCheck(t, tok, &Policy{}, staticKeys(set)); err != nil {
		t.Fatalf("token with a kid against a PEM key: %v", err)
	}
}

func TestLookupKidHasNoFallback(t *testing.T) {
	k := newTestKeys(t)
	pemKey, _ := NewKey("", "", &k.ec.PublicKey, "key.pem")
	withID, _ := NewKey("jwks-1", "", &k.other.PublicKey, "jwks")
	set := NewKeySet(pemKey, withID)
	if got := set.LookupKid("some-idp-kid", ES256); len(got) != 0 {
		t.Fatalf("LookupKid of an absent kid = %v, want none", got)
	}
	if got := set.LookupKid("jwks-1", ES256); len(got) != 1 || got[0] != withID {
		t.Fatalf("LookupKid(jwks-1) = %v", got)
	}
	if got := set.LookupKid("", ES256); len(got) != 0 {
		t.Fatalf("LookupKid(\"\") = %v", got)
	}
	if got := set.Kidless(ES256); len(got) != 1 || got[0] != pemKey {
		t.Fatalf("Kidless = %v", got)
	}
	if got := set.Kidless(RS256); len(got) != 0 {
		t.Fatalf("Kidless ignored the algorithm: %v", got)
	}
}
