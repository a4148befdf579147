package ipfilter

import (
	"context"
	stderrors "errors"
	"net/http"
	"net/netip"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// AccountLookup returns an account's own allow-list: the B2B rule that an
// account with entries may call only from them, and an account with none
// from anywhere.
//
// AllowList returns the account's entries; no entries (nil or empty) means
// the account is unrestricted. Every entry counts, even one that can match
// nothing (the zero Prefix, an IPv4-mapped prefix): it keeps the account
// restricted, so a corrupt entry locks the account out rather than opening
// it. Callers treat the returned slice as read-only.
//
// An error means the lookup could not answer; the request is refused
// (fail closed), with the error written as is if it is an *errors.Error,
// and as errors.Unavailable (503) otherwise.
type AccountLookup interface {
	AllowList(ctx context.Context, account string) ([]netip.Prefix, error)
}

// AccountLookupFunc lets a function be an AccountLookup.
type AccountLookupFunc func(ctx context.Context, account string) ([]netip.Prefix, error)

// AllowList calls f(ctx, account).
func (f AccountLookupFunc) AllowList(ctx context.Context, account string) ([]netip.Prefix, error) {
	return f(ctx, account)
}

// Allowed reports whether account may call from addr according to lookup:
// true if the account has no entries (or account is "", no account), or if
// addr is in one of them. An invalid addr (the client IP could not be
// resolved) is allowed only for an unrestricted account. addr is unmapped
// and its zone dropped before matching. A lookup error is returned with
// false: refuse the request.
//
// Handlers call it for checks ForPrincipal cannot make, for example on a
// login handler once the username is parsed:
//
//	addr, _ := ipfilter.ClientIP(r)
//	ok, err := ipfilter.Allowed(r.Context(), accounts, username, addr)
//
// The account's entries are scanned in order: per-account lists are the
// handful of addresses a customer registers, not the static lists New
// searches in logarithmic time. It does not allocate beyond what lookup
// does.
func Allowed(ctx context.Context, lookup AccountLookup, account string, addr netip.Addr) (bool, error) {
	if account == "" {
		return true, nil
	}
	entries, err := lookup.AllowList(ctx, account)
	if err != nil {
		return false, err
	}
	if len(entries) == 0 {
		return true, nil
	}
	if !addr.IsValid() {
		return false, nil
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range entries {
		if p.Contains(addr) {
			return true, nil
		}
	}
	return false, nil
}

// AccountConfig configures ForPrincipal.
type AccountConfig struct {
	// Lookup returns each account's allow-list: a MemoryAccounts, a
	// ClaimLookup, or the application's own store. Required; ForPrincipal
	// panics without it.
	Lookup AccountLookup

	// Account names the account a request belongs to. An error refuses the
	// request (fail closed): an *errors.Error is written as is, anything
	// else as errors.IPDenied (403). An empty name with no error means the
	// request has no account and is not restricted, so that a login for an
	// unknown user goes on to fail as any bad login does.
	//
	// On routes that run after middleware.Authenticate, use ByClientID or
	// BySubject. On routes that run before it (login, token refresh by
	// credentials), supply a function that reads the account from the
	// request, for example the username in the body; it must leave the body
	// readable for the handler.
	//
	// Default: ByClientID.
	Account func(r *http.Request) (string, error)
}

// errNoAccount is the cause when the principal names no account.
var errNoAccount = stderrors.New("ipfilter: the request has no authenticated account")

// ByClientID names the account by the authenticated principal's ClientID
// (the OAuth client the token was issued to). It fails when the request has
// no principal or the principal has no client id: ForPrincipal then refuses
// rather than let the request through unchecked.
func ByClientID(r *http.Request) (string, error) {
	p, ok := principal.From(r.Context())
	if !ok || p.ClientID() == "" {
		return "", errNoAccount
	}
	return p.ClientID(), nil
}

// BySubject names the account by the authenticated principal's Subject
// ("sub"). It fails, like ByClientID, when there is none.
func BySubject(r *http.Request) (string, error) {
	p, ok := principal.From(r.Context())
	if !ok || p.Subject() == "" {
		return "", errNoAccount
	}
	return p.Subject(), nil
}

// ForPrincipal returns a middleware that lets a request through only if its
// account may call from its client IP (see Allowed). Put it after
// middleware.Authenticate, below New so that the client IP was resolved
// with your trusted proxies (without New it is the connection's peer).
//
// It refuses with errors.IPDenied (403), cause ErrNotAllowed, when the
// account has entries and the client IP is in none of them or unknown; with
// 403 when Account fails (see AccountConfig); and with errors.Unavailable
// (503) when Lookup fails. A lookup failure is an outage, not a verdict on
// the address: 503 tells the client to retry and the operator where to
// look, and says nothing about the list. Neither the address nor the
// account is written. Nothing reaches next.
//
// Allocation: none of its own; a MemoryAccounts lookup allocates nothing.
//
// ForPrincipal panics if cfg.Lookup is nil.
func ForPrincipal(cfg AccountConfig) func(http.Handler) http.Handler {
	if cfg.Lookup == nil {
		panic("ipfilter.ForPrincipal: nil Lookup")
	}
	account := cfg.Account
	if account == nil {
		account = ByClientID
	}
	lookup := cfg.Lookup
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name, err := account(r)
			if err != nil {
				var e *errors.Error
				if !stderrors.As(err, &e) {
					e = &errors.Error{Kind: errors.IPDenied, Err: err}
				}
				errors.Write(w, r, e)
				return
			}
			addr, _ := ClientIP(r)
			ok, err := Allowed(r.Context(), lookup, name, addr)
			if err != nil {
				var e *errors.Error
				if !stderrors.As(err, &e) {
					e = &errors.Error{Kind: errors.Unavailable, Err: err}
				}
				errors.Write(w, r, e)
				return
			}
			if !ok {
				errors.Write(w, r, &errors.Error{Kind: errors.IPDenied, Err: ErrNotAllowed})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
