package ratelimit

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/errors"
)

// Header values are shared between responses wherever they can be: the
// capacities and the RateLimit-Policy of the configured limits, the numbers
// 0 to maxSmallNumber, Remaining after one request on a full bucket, and
// Unix seconds. Each is a []string of length and capacity 1, so a handler
// that adds a value (Header.Add, append) gets a new array rather than
// writing into the shared one. Setting a header replaces its slice and is
// fine too; writing into a value in place (h[name][0] = v) is not, since
// every other response carrying that value would change with it.
//
// A value no cache holds is formatted: all of a response's such values go
// into one string and one array, two allocations however many there are.

// headerValues are the X-RateLimit-* and RateLimit values of one
// configured limit that do not depend on the bucket, or that depend on it
// only through its most common state: full before the request, as it is
// for any client well within its limit.
type headerValues struct {
	limit [1]string // X-RateLimit-Limit: the capacity
	// fullRemaining is Remaining after one request on a full bucket
	// (capacity − 1), and remaining its X-RateLimit-Remaining.
	fullRemaining int
	remaining     [1]string
	// fullReset is the RateLimit t after one request on a full bucket
	// (one token's time, in whole seconds rounded up), and rateLimit the
	// RateLimit field with that r and t.
	fullReset int64
	rateLimit [1]string
}

func newHeaderValues(l Limit) headerValues {
	v := headerValues{fullRemaining: l.Capacity() - 1}
	v.limit[0] = strconv.Itoa(l.Capacity())
	v.remaining[0] = strconv.Itoa(v.fullRemaining)
	v.fullReset = ceilSeconds(ceilDuration(float64(l.Per) / float64(l.Events)))
	v.rateLimit[0] = string(appendRateLimit(nil, l.Name, v.fullRemaining, v.fullReset))
	return v
}

// maxSmallNumber is the largest number whose header value is built once
// for all: every Remaining of a bucket of up to 4,096, and
// X-RateLimit-Reset in seconds from now (ResetSeconds) within 68 minutes.
const maxSmallNumber = 4096

// smallNumbers are the header values of 0 to maxSmallNumber, built the
// first time a limiter is made: one string of all the digits, sliced.
var smallNumbers = sync.OnceValue(func() *[maxSmallNumber + 1][1]string {
	var b []byte
	var ends [maxSmallNumber + 1]int
	for n := range ends {
		b = strconv.AppendInt(b, int64(n), 10)
		ends[n] = len(b)
	}
	s := string(b)
	t := new([maxSmallNumber + 1][1]string)
	start := 0
	for n, end := range ends {
		t[n][0] = s[start:end]
		start = end
	}
	return t
})

// unixBlock Unix seconds in a row are formatted together, and unixBlocks
// blocks are held: 4,096 seconds, so a X-RateLimit-Reset up to 68 minutes
// ahead is formatted once per block rather than once per response.
const (
	unixBlock  = 64
	unixBlocks = 64
)

// unixSeconds are the header values of the Unix seconds first to
// first+unixBlock−1.
type unixSeconds struct {
	first  int64
	values [unixBlock][1]string
}

// unixCache holds blocks of Unix seconds by block number modulo
// unixBlocks. A block is immutable once stored; two goroutines that miss
// at once each build one and the second replaces the first, which is
// harmless.
var unixCache [unixBlocks]atomic.Pointer[unixSeconds]

// unixValue is the header value of the Unix time sec: shared, and
// formatted with 63 of its neighbours the first time one of them is asked
// for. It is nil for a time before 1970.
func unixValue(sec int64) []string {
	if sec < 0 {
		return nil
	}
	first := sec - sec%unixBlock
	slot := &unixCache[sec/unixBlock%unixBlocks]
	u := slot.Load()
	if u == nil || u.first != first {
		u = newUnixSeconds(first)
		slot.Store(u)
	}
	return u.values[sec-first][:]
}

func newUnixSeconds(first int64) *unixSeconds {
	var buf [unixBlock * 20]byte
	var ends [unixBlock]int
	b := buf[:0]
	for i := range ends {
		b = strconv.AppendInt(b, first+int64(i), 10)
		ends[i] = len(b)
	}
	s := string(b)
	u := &unixSeconds{first: first}
	start := 0
	for i, end := range ends {
		u.values[i][0] = s[start:end]
		start = end
	}
	return u
}

// The values writeHeaders sets, in order.
const (
	vLimit = iota
	vRemaining
	vReset
	vPolicy
	vRateLimit
)

// writeHeaders sets the rate-limit headers for d. With the configured
// limits, a Remaining up to maxSmallNumber or after one request on a full
// bucket, and a Reset within the cached Unix seconds, it allocates nothing;
// otherwise two allocations (see formatValues).
func (l *limiter) writeHeaders(h http.Header, d Decision, limits []Limit, static bool) {
	if d.Index < 0 || d.Index >= len(limits) {
		d.Index = 0
	}
	resetSecs, reset := l.reset(d)

	n := 3
	if l.cfg.IETFHeaders {
		n = 5
	}
	var vals [5][]string
	if static {
		v := &l.values[d.Index]
		vals[vLimit] = v.limit[:]
		if d.Remaining == v.fullRemaining {
			vals[vRemaining] = v.remaining[:]
			if resetSecs == v.fullReset {
				vals[vRateLimit] = v.rateLimit[:]
			}
		}
		vals[vPolicy] = l.policy[:]
	} else {
		vals[vLimit] = l.small(int64(d.Limit))
	}
	if vals[vRemaining] == nil {
		vals[vRemaining] = l.small(int64(d.Remaining))
	}
	if l.cfg.ResetSeconds {
		vals[vReset] = l.small(reset)
	} else {
		vals[vReset] = unixValue(reset)
	}
	for _, v := range vals[:n] {
		if v == nil {
			formatValues(vals[:n], d, limits, resetSecs, reset)
			break
		}
	}

	if l.hLimit != "" {
		h[l.hLimit] = vals[vLimit]
	}
	if l.hRemaining != "" {
		h[l.hRemaining] = vals[vRemaining]
	}
	if l.hReset != "" {
		h[l.hReset] = vals[vReset]
	}
	if l.cfg.IETFHeaders {
		h[hPolicy] = vals[vPolicy]
		h[hRateLimit] = vals[vRateLimit]
	}
}

// reset is the RateLimit t in whole seconds, and X-RateLimit-Reset: the
// same, or with the default Unix time, that moment as a Unix second, both
// rounded up. On an allowed request it is when the bucket is full again
// (d.Reset). On a refusal it is when the next request would be admitted
// (d.RetryAfter), as draft-ietf-httpapi-ratelimit-headers-10 §4.1.2 and §6
// ask of t, in the whole seconds Retry-After carries: the three agree, and
// a client that waits for any of them is admitted.
func (l *limiter) reset(d Decision) (resetSecs, reset int64) {
	wait := d.Reset
	resetSecs = ceilSeconds(wait)
	if !d.Allowed {
		wait = d.RetryAfter
		resetSecs = errors.RetryAfterSeconds(wait)
	}
	if l.cfg.ResetSeconds {
		return resetSecs, resetSecs
	}
	at := d.At
	if at.IsZero() {
		at = l.cfg.Now()
	}
	return resetSecs, ceilUnix(at.Add(wait))
}

// small is the shared header value of n, or nil if n is not in 0 to
// maxSmallNumber.
func (l *limiter) small(n int64) []string {
	if n < 0 || n > maxSmallNumber {
		return nil
	}
	return l.numbers[n][:]
}

// formatValues fills in the values (see vLimit) that are nil, with two
// allocations whatever their number: one string holding them all, sliced,
// and one backing array.
func formatValues(vals [][]string, d Decision, limits []Limit, resetSecs, reset int64) {
	var buf [128]byte
	b := buf[:0]
	var ends [5]int
	missing := 0
	for i, v := range vals {
		if v == nil {
			missing++
			switch i {
			case vLimit:
				b = strconv.AppendInt(b, int64(d.Limit), 10)
			case vRemaining:
				b = strconv.AppendInt(b, int64(d.Remaining), 10)
			case vReset:
				b = strconv.AppendInt(b, reset, 10)
			case vPolicy:
				b = appendPolicy(b, limits)
			case vRateLimit:
				b = appendRateLimit(b, limits[d.Index].Name, d.Remaining, resetSecs)
			}
		}
		ends[i] = len(b)
	}
	s := string(b)
	backing := make([]string, missing)
	start := 0
	for i, v := range vals {
		if v == nil {
			backing[0] = s[start:ends[i]]
			vals[i] = backing[0:1:1]
			backing = backing[1:]
		}
		start = ends[i]
	}
}

// appendRateLimit appends the draft-10 RateLimit field: the reported
// limit's name, r its Remaining and t the seconds until it is full.
func appendRateLimit(b []byte, name string, remaining int, resetSecs int64) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, int64(remaining), 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, resetSecs, 10)
}

// policyHeader is the RateLimit-Policy value: every limit as a structured
// field item, `"name";q=capacity;w=window-seconds`.
func policyHeader(limits []Limit) string {
	return string(appendPolicy(nil, limits))
}

func appendPolicy(b []byte, limits []Limit) []byte {
	for i, l := range limits {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '"')
		b = append(b, l.Name...)
		b = append(b, `";q=`...)
		b = strconv.AppendInt(b, int64(l.Capacity()), 10)
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, ceilSeconds(l.Window()), 10)
	}
	return b
}

// ceilSeconds is d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}

// ceilUnix is t as a Unix time in whole seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
