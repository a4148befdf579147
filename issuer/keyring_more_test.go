package issuer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
)

// flakyKeyStore fails every call while down is set.
type flakyKeyStore struct {
	issuer.MemoryKeyStore
	down atomic.Bool
}

var errDown = errors.New("store down")

func (s *flakyKeyStore) Keys(ctx context.Context) ([]issuer.KeyRecord, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.MemoryKeyStore.Keys(ctx)
}

func TestARotationThatCannotReachTheStoreKeepsTheLastKeys(t *testing.T) {
	c := newClock()
	store := &flakyKeyStore{}
	r := newRing(t, c, store, "")
	before, version := kids(r), r.KeysVersion()
	store.down.Store(true)
	c.Advance(period)
	if err := r.Rotate(context.Background()); !errors.Is(err, errDown) {
		t.Fatalf("err %v, want the store's", err)
	}
	if got := kids(r); len(got) != 1 || got[0] != before[0] || r.KeysVersion() != version {
		t.Fatalf("keys %v (version %d), want %v (version %d)", got, r.KeysVersion(), before, version)
	}
	if _, err := r.Signer(c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := issuer.NewKeyRing(context.Background(), issuer.KeyRingConfig{Store: store}); err == nil {
		t.Fatal("a ring started without reaching its store")
	}
}

func TestTheKeysVersionChangesOnlyWithThePublishedKeys(t *testing.T) {
	c := newClock()
	t0 := c.Now()
	r := newRing(t, c, nil, "")
	v1 := r.KeysVersion()
	rotateAt(t, r, c, t0.Add(time.Hour))
	if r.KeysVersion() != v1 {
		t.Fatal("a rotation that changed nothing changed the version")
	}
	rotateAt(t, r, c, t0.Add(period-2*ahead))
	if r.KeysVersion() == v1 {
		t.Fatal("publishing a key left the version as it was")
	}
}

func TestRunStopsWhenItsContextEnds(t *testing.T) {
	c := newClock()
	r := newRing(t, c, nil, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	cancel()
	<-done
}

func TestMemorySessionStoreSweepDropsExpiredSessions(t *testing.T) {
	c := newClock()
	store := &issuer.MemorySessionStore{}
	s, _ := issuer.NewSessions(issuer.SessionsConfig{Store: store, AbsoluteLifetime: time.Hour, Now: c.Now})
	old, _ := s.Start(context.Background(), issuer.SessionRequest{ClientID: "app"})
	c.Advance(30 * time.Minute)
	live, _ := s.Start(context.Background(), issuer.SessionRequest{ClientID: "app"})
	c.Advance(30 * time.Minute)
	store.Sweep(c.Now())
	if _, err := store.End(context.Background(), old.Session.ID, c.Now()); !errors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("the expired session is still held: %v", err)
	}
	if _, err := store.End(context.Background(), live.Session.ID, c.Now()); err != nil {
		t.Fatalf("the live session was swept: %v", err)
	}
}
