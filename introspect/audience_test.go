package introspect

import (
	"context"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// ZITADEL, Hydra (a token granted no audience) and Keycloak (no audience
// mapper) answer without "aud"; AllowMissingAudience admits such an answer
// and nothing more.
func TestAllowMissingAudienceAdmitsOnlyAnAnswerWithoutAud(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		allow      bool
		want       tgerrors.Kind // "" means admitted
		wantCached bool          // as a refusal
	}{
		{"no aud is refused by default", `{"active":true,"sub":"u1"}`, false, tgerrors.InvalidToken, true},
		{"aud null is refused by default", `{"active":true,"aud":null}`, false, tgerrors.InvalidToken, true},
		{"no aud is admitted with AllowMissingAudience", `{"active":true,"sub":"u1"}`, true, "", false},
		{"aud null is admitted with AllowMissingAudience", `{"active":true,"aud":null}`, true, "", false},
		{"a foreign aud is still refused", `{"active":true,"aud":"billing"}`, true, tgerrors.InvalidToken, true},
		{"a foreign aud array is still refused", `{"active":true,"aud":["billing","admin"]}`, true, tgerrors.InvalidToken, true},
		{"an empty aud array names no one and is refused", `{"active":true,"aud":[]}`, true, tgerrors.InvalidToken, true},
		{"an empty aud string is refused", `{"active":true,"aud":""}`, true, tgerrors.InvalidToken, true},
		{"our aud is admitted", `{"active":true,"aud":["billing","orders"]}`, true, "", false},
		{"an aud of the wrong type is unavailable", `{"active":true,"aud":7}`, true, tgerrors.Unavailable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(tt.body))
			c := newClient(t, ep, newClock(), func(c *Config) {
				c.Audiences = []string{"orders"}
				c.AllowMissingAudience = tt.allow
			})
			p, err := c.Verify(context.Background(), goodToken)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("admitted as %+v", p)
			}
			wantRefusal(t, err, tt.want)
			if got := c.refused.Len() == 1; got != tt.wantCached {
				t.Errorf("refusal cached: %v, want %v", got, tt.wantCached)
			}
		})
	}
}

func TestAllowMissingAudienceWithoutAudiencesChangesNothing(t *testing.T) {
	for _, body := range []string{`{"active":true}`, `{"active":true,"aud":"anything"}`} {
		ep := newEndpoint(t, answer(body))
		c := newClient(t, ep, newClock(), func(c *Config) { c.AllowMissingAudience = true })
		if _, err := c.Verify(context.Background(), goodToken); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}
