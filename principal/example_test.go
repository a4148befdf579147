package principal_test

import (
	"context"
	"fmt"

	"github.com/tollgate/tollgate/principal"
)

func Example() {
	// A verifier parses scopes once, when it accepts the token.
	claims := map[string]any{"sub": "merchant-42", "scope": "can_read_order can_write_order"}
	p := principal.New(principal.Fields{Subject: "merchant-42", Type: "merchant", Scopes: principal.ParseScopes(claims), Claims: claims})

	// middleware.Authenticate puts it in the request context; handlers read it.
	ctx := principal.NewContext(context.Background(), p)
	if caller, ok := principal.From(ctx); ok {
		fmt.Println(caller.Subject(), caller.Type(), caller.HasScope("can_read_order"))
	}
	// Output: merchant-42 merchant true
}
