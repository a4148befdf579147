package observe_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/observe"
	"github.com/tollgate/tollgate/principal"
)

// An observer of your own: fill the fields you need. Here, every refusal
// is printed with its layer and kind.
func Example() {
	obs := &observe.Observer{
		Refused: func(_ context.Context, r observe.Refusal) {
			fmt.Println("refused by", r.Layer, "as", r.Kind)
		},
	}
	noTokens := middleware.VerifierFunc(func(context.Context, string) (*principal.Principal, error) {
		return nil, tgerrors.New(tgerrors.InvalidToken, "")
	})
	api := middleware.Chain(
		tgerrors.Use(tgerrors.OAuth, tgerrors.WithObserver(obs)),
		middleware.Authenticate(noTokens, middleware.OnRefusal(nil)),
	)(http.NotFoundHandler())

	for _, auth := range []string{"", "Bearer abc"} {
		r := httptest.NewRequest("GET", "/orders", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// refused by authenticate as missing_token
	// 401
	// refused by authenticate as invalid_token
	// 401
}
