package redisrevocation

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestMain quiets go-redis's own log, which writes a line per failed dial:
// the tests here kill and pause servers on purpose, and their figures would
// drown.
func TestMain(m *testing.M) {
	redis.SetLogger(quietRedisLog{})
	os.Exit(m.Run())
}

type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}
