package introspect

import (
	"fmt"
	"strings"
	"testing"
)

// Printing a Client, as a debug line might, shows no secret.
func TestPrintingAClientShowsNoSecret(t *testing.T) {
	const secret = "s3cr3t-value-123"
	for _, auth := range []ClientAuth{ClientSecretPost("orders-api", secret), ClientSecretBasic("orders-api", secret), BearerToken("tok" + secret)} {
		c, err := New(Config{Endpoint: "https://auth.example.com/introspect", Auth: auth})
		if err != nil {
			t.Fatal(err)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, c); strings.Contains(s, secret) || strings.Contains(s, "czNjcjN0") {
				t.Fatalf("%s of a *Client prints the secret: %s", verb, s)
			}
		}
	}
}
