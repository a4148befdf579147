package introspect

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	stderrors "errors"
	"fmt"
	"time"
)

// errProbeActive is Ready's error for an endpoint that calls the probe's
// random token active.
var errProbeActive = stderrors.New("introspect: readiness probe: the endpoint calls a token that was never issued active")

// ReadyWindow is how recent the endpoint's last usable answer must be for
// Ready to trust it without a probe.
const ReadyWindow = 30 * time.Second

// Ready reports whether the introspection endpoint answers. If a token's
// introspection got a usable answer (active or not) within ReadyWindow, and
// no call has failed since, it returns nil at once. Otherwise it probes:
// one introspection of a random token that was never issued (32 random
// bytes, base64url), with this client's credentials, under ctx's deadline
// and never longer than Config.Timeout. The probe passes if the endpoint
// answers 200 with a JSON object, whatever it says of the token (it should
// say "active": false); a transport error, another status (a 401 for wrong
// credentials among them) or garbage is returned as the error. The probe
// never sends a real token and its answer is not cached.
func (c *Client) Ready(ctx context.Context) error {
	if at := c.answered.Load(); at != 0 && !c.failing.Load() && c.now().Sub(time.Unix(0, at)) < ReadyWindow {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var b [32]byte
	_, _ = rand.Read(b[:])
	answer, err := c.fetch(ctx, base64.RawURLEncoding.EncodeToString(b[:]))
	if err != nil {
		return fmt.Errorf("introspect: readiness probe: %w", err)
	}
	if active, _ := answer["active"].(bool); active {
		return errProbeActive
	}
	return nil
}
