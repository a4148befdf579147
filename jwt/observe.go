package jwt

import (
	"time"

	"github.com/tollgate/tollgate/observe"
)

// jwksObserved reports one source's fetches to Config.Observer. Fetches of
// a source never overlap (one is in flight at a time, started and ended
// under the source's mutex), so its fields need no lock of their own.
type jwksObserved struct {
	o *observe.Observer
	// lastLoad is when the set in use was last fetched; zero: never.
	lastLoad time.Time
	// failingSince is when the first of the current run of failed fetches
	// started; zero: the last fetch succeeded.
	failingSince time.Time
}

// failed reports a fetch that started at start and failed at now.
func (j *jwksObserved) failed(r *jwksSource, start, now time.Time) {
	if j.failingSince.IsZero() {
		j.failingSince = start
	}
	if j.o == nil {
		return
	}
	var age time.Duration
	if !j.lastLoad.IsZero() {
		age = now.Sub(j.lastLoad)
	}
	j.o.ReportJWKSFetch(observe.JWKSFetch{
		Issuer: r.issuer, Outcome: observe.OutcomeError, Duration: now.Sub(start),
		Keys: keyCount(r.set.Load()), Age: age, Stale: r.stale(now),
	})
}

// loaded reports a fetch that started at start and loaded the set at now,
// and the recovery of a set whose fetches were failing.
func (j *jwksObserved) loaded(r *jwksSource, start, now time.Time) {
	j.lastLoad = now
	down := j.failingSince
	j.failingSince = time.Time{}
	if j.o == nil {
		return
	}
	j.o.ReportJWKSFetch(observe.JWKSFetch{
		Issuer: r.issuer, Outcome: observe.OutcomeOK, Duration: now.Sub(start),
		Keys: keyCount(r.set.Load()),
	})
	if !down.IsZero() {
		j.o.ReportJWKSRecovered(observe.JWKSRecovery{Issuer: r.issuer, Down: now.Sub(down)})
	}
}

func keyCount(s *keySet) int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}
