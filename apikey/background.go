package apikey

import (
	"context"
	"errors"
	"time"
)

// flushEvery is how often queued last-used times are written.
const flushEvery = time.Second

// maxBatch is the most last-used times one write carries.
const maxBatch = 1000

// background writes last-used times in batches and rehashes tokens
// verified under an old pepper, off the request path. A store that fails
// loses those writes (they are best effort) and is logged once per
// outage, and once when it recovers.
func (k *Keys) background(ctx context.Context) {
	defer k.wg.Done()
	defer close(k.bgDone)
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	pending := map[string]time.Time{}
	failing := false
	flush := func() error {
		for len(pending) > 0 {
			batch := make([]Use, 0, min(len(pending), maxBatch))
			for id, at := range pending {
				batch = append(batch, Use{ID: id, At: at})
				delete(pending, id)
				if len(batch) == maxBatch {
					break
				}
			}
			wctx, cancel := context.WithTimeout(ctx, k.timeout)
			err := k.store.Touch(wctx, batch, k.lastUsedInt)
			cancel()
			if err != nil {
				clear(pending)
				if !failing {
					failing = true
					k.log.Warn("apikey: writing last-used times failed; they are dropped until the store answers", "err", err)
				}
				return err
			}
			if failing {
				failing = false
				k.log.Info("apikey: writing last-used times again")
			}
		}
		return nil
	}
	add := func(u Use) {
		if u.At.After(pending[u.ID]) {
			pending[u.ID] = u.At
		}
	}
	for {
		select {
		case u := <-k.uses:
			add(u)
			if len(pending) >= maxBatch {
				_ = flush()
			}
		case r := <-k.rehash:
			k.rehashKey(ctx, r)
		case <-tick.C:
			_ = flush()
		case done := <-k.flushes:
			for drained := false; !drained; {
				select {
				case u := <-k.uses:
					add(u)
				case r := <-k.rehash:
					k.rehashKey(ctx, r)
				default:
					drained = true
				}
			}
			done <- flush()
		case <-ctx.Done():
			return
		}
	}
}

// Flush does the background work queued so far, now: it writes the
// pending last-used times and rehashes. Close calls it; tests do, so they
// need not wait for the background. After Close it does nothing.
func (k *Keys) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case k.flushes <- done:
	case <-k.bgDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rehashKey replaces a hash made with an old pepper by the newest
// pepper's, so the old pepper can be retired once no key needs it.
func (k *Keys) rehashKey(ctx context.Context, r rehash) {
	wctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	_, err := k.store.Update(wctx, r.id, func(key *Key, hashes []Hash) ([]Hash, error) {
		for i, h := range hashes {
			if h.Digest == r.old {
				hashes[i] = r.new
				return hashes, nil
			}
		}
		return nil, errNothingToRehash
	})
	if err != nil && !errors.Is(err, errNothingToRehash) && !errors.Is(err, ErrNotFound) {
		k.log.Warn("apikey: rehashing a key with the newest pepper failed; it is retried at its next verification", "key", r.id, "err", err)
	}
}

var errNothingToRehash = errors.New("apikey: hash already replaced")
