package jose

import "testing"

func TestKindPolicyAllocatesNothing(t *testing.T) {
	claims := map[string]any{"sub": "u", "typ": "Bearer", "token_type": "Bearer", "token_use": "Access", "auth_time": 1.0}
	var p KindPolicy
	if n := testing.AllocsPerRun(100, func() {
		if p.NotAccessToken(claims) != "" || p.NotAccessTyp("JWT") != "" || p.NotAccessTyp("Application/AT+JWT") != "" {
			t.Fatal("refused an access token")
		}
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
	if p.NotAccessTyp("Application/Logout+JWT") == "" || p.NotAccessToken(map[string]any{"typ": "REFRESH"}) == "" {
		t.Error("case folding lost a refusal")
	}
}
