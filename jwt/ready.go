package jwt

import (
	"context"
	stderrors "errors"
	"fmt"
	"strings"
	"time"
)

// ErrKeysNotReady is wrapped by the errors of Ready and of NewVerifier with
// Config.RequireKeysAtStart: an issuer's key set is not loaded or is stale.
var ErrKeysNotReady = stderrors.New("jwt: key sets not ready")

// Ready reports whether every issuer can verify tokens now: nil once each
// key set fetched from a JWKS URL or by discovery (one per tenant, for a
// per-tenant issuer) is loaded and within its stale limit; otherwise an
// error wrapping ErrKeysNotReady that names each such issuer and says
// "not loaded" or "stale". Static keys, HMAC secrets and KeySources are
// always ready. The error names issuers only, never a key.
//
// For a key set that is not usable, Ready first starts a fetch (or joins
// the one in flight, at most one per key set) and waits for it under ctx, so
// that a process kept out of rotation by its readiness probe, and so sent no
// tokens, still finds its keys as soon as the issuer answers, without
// waiting for the background refresh. Give ctx a deadline shorter than the
// probe's timeout: a fetch that outlasts it leaves Ready unready.
func (v *Verifier) Ready(ctx context.Context) error {
	now := v.now()
	type pending struct {
		r *jwksSource
		f *jwksFetch
	}
	var waits []pending
	for _, r := range v.remotes {
		if !r.usable(now) {
			waits = append(waits, pending{r, r.fetchNow(false)})
		}
	}
	for _, w := range waits {
		if w.f != nil {
			_ = w.r.wait(ctx, w.f)
		}
	}
	return v.keysProblem(v.now())
}

// keysProblem names the key sets not usable at now, or returns nil.
func (v *Verifier) keysProblem(now time.Time) error {
	var problems []string
	for _, r := range v.remotes {
		switch {
		case r.set.Load() == nil:
			problems = append(problems, r.issuer+": keys not loaded")
		case r.stale(now):
			problems = append(problems, r.issuer+": keys stale")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrKeysNotReady, strings.Join(problems, "; "))
}

// usable reports whether the source holds a key set within its stale limit.
func (r *jwksSource) usable(now time.Time) bool {
	return r.set.Load() != nil && !r.stale(now)
}
