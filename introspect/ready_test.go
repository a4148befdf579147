package introspect

import (
	"context"
	stderrors "errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestReadyProbesWithANeverIssuedTokenUnlessTheEndpointAnsweredRecently(t *testing.T) {
	clk := newClock()
	ep := newEndpoint(t, answer(`{"active":false}`))
	c := newClient(t, ep, clk, nil)
	ctx := context.Background()

	if err := c.Ready(ctx); err != nil {
		t.Fatalf("Ready against a healthy endpoint = %v", err)
	}
	if got := ep.calls.Load(); got != 1 {
		t.Fatalf("probes = %d, want 1", got)
	}
	ep.mu.Lock()
	form, auth := ep.lastForm, ep.lastReq.Header.Get("Authorization")
	ep.mu.Unlock()
	if tok := form.Get("token"); len(tok) < 40 || strings.Contains(tok, ".") {
		t.Errorf("probe token %q, want 32 random bytes in base64url", tok)
	}
	if auth == "" {
		t.Error("the probe did not authenticate as the client")
	}

	ep.setResponse(answer(activeFor(time.Hour)))
	if _, err := c.Verify(ctx, "opaque-token-1"); err != nil {
		t.Fatal(err)
	}
	calls := ep.calls.Load()
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("Ready right after an answer = %v", err)
	}
	if got := ep.calls.Load(); got != calls {
		t.Error("Ready probed although the endpoint had just answered")
	}

	clk.Advance(ReadyWindow)
	ep.setResponse(status(http.StatusUnauthorized, `{"error":"invalid_client"}`))
	err := c.Ready(ctx)
	if err == nil {
		t.Fatal("Ready with the client's credentials refused = nil")
	}
	if got := ep.calls.Load(); got != calls+1 {
		t.Errorf("calls = %d, want one probe past ReadyWindow", got)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Ready's error %q holds the client secret", err)
	}
}

func TestReadyAfterAFailedCallProbes(t *testing.T) {
	clk := newClock()
	ep := newEndpoint(t, answer(activeFor(time.Hour)))
	c := newClient(t, ep, clk, nil)
	ctx := context.Background()
	if _, err := c.Verify(ctx, "opaque-token-1"); err != nil {
		t.Fatal(err)
	}
	ep.setResponse(status(http.StatusBadGateway, ""))
	if _, err := c.Verify(ctx, "opaque-token-2"); err == nil {
		t.Fatal("Verify through a failing endpoint succeeded")
	}
	if err := c.Ready(ctx); err == nil {
		t.Fatal("Ready after a failed call, with the endpoint still failing = nil")
	}
	ep.setResponse(answer(`not json`))
	if err := c.Ready(ctx); err == nil {
		t.Fatal("Ready with an endpoint answering garbage = nil")
	}
	ep.setResponse(answer(`{"active":true,"sub":"anyone"}`))
	if err := c.Ready(ctx); !stderrors.Is(err, errProbeActive) {
		t.Fatalf("Ready with an endpoint that calls any token active = %v, want errProbeActive", err)
	}
}

func TestReadyGivesUpAtTheContextsDeadline(t *testing.T) {
	clk := newClock()
	release := make(chan struct{})
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := newClient(t, ep, clk, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Ready(ctx); err == nil {
		t.Fatal("Ready against a hung endpoint = nil")
	}
}
