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
