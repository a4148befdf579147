//go:build race

package jose

// raceEnabled skips allocation counts: under the race detector sync.Pool
// drops items on purpose, so pooled buffers (json.Valid's scanner) count.
const raceEnabled = true
