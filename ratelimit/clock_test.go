package ratelimit_test

import (
	"time"

	"github.com/tollgate/tollgate/authtest"
)

// newClock returns a clock tests move by hand, so no test sleeps.
func newClock() *authtest.Clock {
	return authtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}
