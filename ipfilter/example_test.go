package ipfilter_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/principal"
)

// The client IP behind a load balancer, and who can and cannot choose it.
func Example_clientIP() {
	filter := ipfilter.New(ipfilter.Config{
		TrustedProxies: []string{"10.0.0.0/24"}, // the load balancers; nothing else
		Allow:          []string{"203.0.113.0/24", "2001:db8::/32"},
	})
	app := errors.Use(errors.Envelope)(filter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _ := ipfilter.ClientIP(r) // what ratelimit and handlers read
		fmt.Fprint(w, ip)
	})))

	try := func(what, remote, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, r)
		fmt.Printf("%-38s %d %s\n", what+":", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	try("direct, allowed", "203.0.113.7:5000", "")
	try("via the proxy", "10.0.0.1:443", "203.0.113.7")
	try("via the proxy, spoofed on the left", "10.0.0.1:443", "203.0.113.7, 192.0.2.1")
	try("direct, spoofing the header", "192.0.2.1:5000", "203.0.113.7")
	try("via the proxy, garbage in the chain", "10.0.0.1:443", "203.0.113.7, garbage")
	// Output:
	// direct, allowed:                       200 203.0.113.7
	// via the proxy:                         200 203.0.113.7
	// via the proxy, spoofed on the left:    403 {"error":{"name":"ForbiddenError","code":"FORBIDDEN","message":"Access from this address is not allowed"}}
	// direct, spoofing the header:           403 {"error":{"name":"ForbiddenError","code":"FORBIDDEN","message":"Access from this address is not allowed"}}
	// via the proxy, garbage in the chain:   403 {"error":{"name":"ForbiddenError","code":"FORBIDDEN","message":"Access from this address is not allowed"}}
}

// A B2B account that may call only from its own addresses.
func ExampleForPrincipal() {
	var accounts ipfilter.MemoryAccounts
	if err := accounts.Set("acme", "203.0.113.0/24"); err != nil {
		panic(err) // entries from your store are validated here
	}
	perAccount := ipfilter.ForPrincipal(ipfilter.AccountConfig{
		Lookup:  &accounts,
		Account: ipfilter.ByClientID, // the default
	})
	app := errors.Use(errors.Envelope)(perAccount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})))

	call := func(clientID, remote string) {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.RemoteAddr = remote
		// middleware.Authenticate does this in a real chain.
		r = r.WithContext(principal.NewContext(r.Context(), principal.New(principal.Fields{ClientID: clientID})))
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, r)
		fmt.Println(clientID, remote, rec.Code)
	}
	call("acme", "203.0.113.7:5000")
	call("acme", "192.0.2.1:5000")
	call("globex", "192.0.2.1:5000") // no list: unrestricted
	// Output:
	// acme 203.0.113.7:5000 200
	// acme 192.0.2.1:5000 403
	// globex 192.0.2.1:5000 200
}
