package middleware

import (
	"bufio"
	"net"
	"net/http"
	"strings"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/bearer"
)

// DefaultMaxTokenBytes caps a bearer token's length before any parsing or
// network call. Real access tokens are well under it; larger inputs are
// refused as invalid_token.
const DefaultMaxTokenBytes = 8 << 10

var (
	errTwoCredentials = tgerrors.New(tgerrors.InvalidRequest, "The request carries more than one credential")
	errMalformedAuth  = tgerrors.New(tgerrors.InvalidRequest, "The Authorization header is malformed")
	errMissingToken   = tgerrors.New(tgerrors.MissingToken, "")
	errBadToken       = tgerrors.New(tgerrors.InvalidToken, "")
)

// bearerFromHeader reads the token from the Authorization header (see
// internal/bearer). found is false when no Bearer credential was sent: no
// header, or another scheme. Nothing is allocated.
func bearerFromHeader(h http.Header) (token string, found bool, err *tgerrors.Error) {
	token, res := bearer.FromHeader(h)
	switch res {
	case bearer.Found:
		return token, true, nil
	case bearer.Malformed:
		return "", true, errMalformedAuth
	case bearer.Several:
		return "", false, errTwoCredentials
	}
	return "", false, nil
}

// extractToken finds the request's one bearer token: the Authorization
// header, and the FromHeader header, query parameter and cookie when
// enabled, or what the Extractor finds instead of them all. Two
// credentials, from one source or two, are invalid_request (RFC 6750 §2: a
// client uses one method). The token's size is checked here; its charset by
// authenticate, before any parsing or network call. outsideHeader reports a
// token read from anywhere but the Authorization header, whose response
// must be kept out of shared caches.
func (a *authenticator) extractToken(r *http.Request) (token string, outsideHeader bool, _ *tgerrors.Error) {
	var found bool
	var err *tgerrors.Error
	if a.extractor != nil {
		token, found, err = a.extractCustom(r)
		outsideHeader = true
	} else {
		token, found, outsideHeader, err = a.fromSources(r)
	}
	if err != nil {
		return "", false, err
	}
	if !found {
		return "", false, errMissingToken
	}
	if len(token) > a.maxTokenBytes {
		return "", false, errBadToken
	}
	return token, outsideHeader, nil
}

// fromSources finds the token in the Authorization header, the FromHeader
// header, the query and the cookie, refusing two.
func (a *authenticator) fromSources(r *http.Request) (token string, found, outsideHeader bool, _ *tgerrors.Error) {
	token, found, err := bearerFromHeader(r.Header)
	if err != nil {
		return "", false, false, err
	}
	if a.headerName != "" {
		t, ok, err := a.fromNamedHeader(r)
		if err != nil {
			return "", false, false, err
		}
		if ok {
			if found {
				return "", false, false, errTwoCredentials
			}
			token, found, outsideHeader = t, true, true
		}
	}
	if a.queryParam != "" {
		if values, ok := r.URL.Query()[a.queryParam]; ok {
			if found || len(values) != 1 {
				return "", false, false, errTwoCredentials
			}
			token, found, outsideHeader = values[0], true, true
		}
	}
	if a.cookieName != "" {
		cookies := r.CookiesNamed(a.cookieName)
		if len(cookies) > 0 {
			if found || len(cookies) != 1 {
				return "", false, false, errTwoCredentials
			}
			token, found, outsideHeader = cookies[0].Value, true, true
		}
	}
	return token, found, outsideHeader, nil
}

// privateWriter keeps the response to a request whose token came from the
// query or a cookie out of shared caches (RFC 6750 §2.3): it makes sure
// Cache-Control says private, or no-store, when the status is written,
// whatever the handler set. It allocates (itself, the header value) on
// those requests only; a token in the Authorization header needs none of
// this, since a shared cache does not reuse a response to such a request
// (RFC 9111 §3.5).
//
// It passes Flush and Hijack through (an EventSource or a WebSocket, which
// cannot send an Authorization header, is the usual reason for a query
// token) and unwraps for http.ResponseController.
type privateWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func newPrivateWriter(w http.ResponseWriter) *privateWriter {
	// Set before the handler runs too: a handler that writes nothing gets
	// its 200 from net/http, past this writer.
	makePrivate(w.Header())
	return &privateWriter{ResponseWriter: w}
}

// WriteHeader implements http.ResponseWriter.
func (pw *privateWriter) WriteHeader(code int) {
	if !pw.wroteHeader && code >= 200 {
		makePrivate(pw.Header())
		pw.wroteHeader = true
	}
	pw.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (pw *privateWriter) Write(b []byte) (int, error) {
	if !pw.wroteHeader {
		pw.WriteHeader(http.StatusOK)
	}
	return pw.ResponseWriter.Write(b)
}

// Flush implements http.Flusher; it does nothing if the underlying writer
// cannot flush.
func (pw *privateWriter) Flush() {
	if !pw.wroteHeader {
		pw.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(pw.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker when the underlying writer does.
func (pw *privateWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(pw.ResponseWriter).Hijack()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (pw *privateWriter) Unwrap() http.ResponseWriter { return pw.ResponseWriter }

// makePrivate makes h's Cache-Control private unless it already is, or is
// no-store: "public" and a private limited to some fields (private="…",
// which lets a shared cache store the rest) are replaced by a plain
// "private"; the other directives (max-age, no-cache, …) are kept.
func makePrivate(h http.Header) {
	values := h.Values("Cache-Control")
	keep := []string{"private"}
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			name, _, qualified := strings.Cut(d, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			switch {
			case name == "no-store", name == "private" && !qualified:
				return
			case name == "", name == "public", name == "private":
				continue
			}
			keep = append(keep, d)
		}
	}
	h.Set("Cache-Control", strings.Join(keep, ", "))
}
