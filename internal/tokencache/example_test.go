package tokencache_test

import (
	"fmt"
	"time"

	"github.com/tollgate/tollgate/internal/tokencache"
)

// An entry is answered for its exact token until its expiry, never after.
func Example() {
	c := tokencache.New[string](1024)
	t0 := time.Unix(1_900_000_000, 0)
	c.Put("token-a", &tokencache.Entry[string]{Value: "user-1", Expires: t0.Add(time.Minute)})

	if e := c.Get("token-a", t0); e != nil {
		fmt.Println(e.Value)
	}
	fmt.Println(c.Get("token-A", t0) == nil, c.Get("token-a", t0.Add(time.Minute)) == nil)
	// Output:
	// user-1
	// true true
}
