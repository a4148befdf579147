package redisstore

// WaitWarm waits until New's background warm-up is over, so that a test
// counting commands sees only its own.
func WaitWarm(s *Store) { <-s.warmed }
