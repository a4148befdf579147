package ratelimit

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/principal"
)

func TestSharedHeaderValuesSpellTheirNumbersAndCannotBeAppendedInto(t *testing.T) {
	check := func(what string, v []string, want int64) {
		t.Helper()
		if len(v) != 1 || cap(v) != 1 || v[0] != strconv.FormatInt(want, 10) {
			t.Fatalf("%s: %q (len %d, cap %d), want [%d] with len and cap 1", what, v, len(v), cap(v), want)
		}
	}
	numbers := smallNumbers()
	for n := range maxSmallNumber + 1 {
		check("small number", numbers[n][:], int64(n))
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix()
	for sec := now - 2*unixBlock; sec < now+unixBlock*unixBlocks+2*unixBlock; sec++ {
		check("Unix second", unixValue(sec), sec)
	}
	for _, sec := range []int64{0, 1, unixBlock - 1, unixBlock, 1 << 40} {
		check("Unix second", unixValue(sec), sec)
	}
	if v := unixValue(-1); v != nil {
		t.Errorf("Unix second -1: %q, want nil (formatted instead)", v)
	}
}

// Whatever a response's values come from, shared or formatted, they are
// what formatting them all would write.
func TestSharedAndFormattedHeaderValuesAgree(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	limits := []Limit{
		{Name: "burst", Events: 10, Per: time.Second},
		{Name: "hourly", Events: 10_000, Per: time.Hour},
	}
	var decisions []Decision
	for _, index := range []int{0, 1} {
		for _, remaining := range []int{0, 1, 8, 9, 4096, 4097, 9998, 9999} {
			for _, reset := range []time.Duration{0, time.Nanosecond, 100 * time.Millisecond, time.Second, 361 * time.Millisecond, 2 * time.Hour} {
				decisions = append(decisions, Decision{Allowed: true, Index: index, Limit: limits[index].Capacity(), Remaining: remaining, Reset: reset, At: at})
			}
		}
		for _, retry := range []time.Duration{time.Nanosecond, 100 * time.Millisecond, time.Second, 6 * time.Minute} {
			decisions = append(decisions, Decision{Index: index, Limit: limits[index].Capacity(), Reset: time.Hour, RetryAfter: retry, At: at})
		}
	}
	for _, cfg := range []Config{
		{Limits: limits, IETFHeaders: true},
		{Limits: limits, IETFHeaders: true, ResetSeconds: true},
		{LimitFor: func(*http.Request, *principal.Principal) []Limit { return limits }, IETFHeaders: true},
	} {
		l := newLimiter(cfg)
		static := l.limits != nil
		for _, d := range decisions {
			got := http.Header{}
			l.writeHeaders(got, d, limits, static)

			resetSecs, reset := l.reset(d)
			want := make([][]string, 5)
			formatValues(want, d, limits, resetSecs, reset)
			for i, name := range []string{hLimit, hRemaining, hReset, hPolicy, hRateLimit} {
				if g := got[name]; len(g) != 1 || g[0] != want[i][0] {
					t.Errorf("%+v, ResetSeconds %v, configured limits %v: %s = %q, formatted %q", d, cfg.ResetSeconds, static, name, g, want[i])
				}
			}
		}
	}
}
