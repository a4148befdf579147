package issuer

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// KeyByTokenClient is a ratelimit.KeyFunc for the token and revocation
// endpoints, which run before any principal exists: "client:" and the
// client id of HTTP Basic or of the body's client_id. It reads at most
// DefaultTokenBodyBytes of the body and puts them back, so the endpoint
// reads the body whole; a larger or unreadable body, or a request naming
// no client, has no key (the limiter's "anonymous" bucket, or a fallback
// by ratelimit.FirstKey):
//
//	limit := ratelimit.New(ratelimit.Config{
//		Limits: []ratelimit.Limit{{Events: 10, Per: time.Minute}},
//		Key:    ratelimit.FirstKey(issuer.KeyByTokenClient, ratelimit.KeyByIP),
//	})
//	mux.Handle("POST /oauth/token", limit(tokenHandler))
//
// The id is as the client sent it, not yet authenticated: it bounds what
// one id can cost (argon2id hashes included), which is the point.
func KeyByTokenClient(r *http.Request) (string, bool) {
	if user, _, ok := r.BasicAuth(); ok {
		if id, err := url.QueryUnescape(user); err == nil && id != "" {
			return "client:" + id, true
		}
		return "", false
	}
	p, ok := peekParams(r)
	if id := p.get("client_id"); ok && id != "" {
		return "client:" + id, true
	}
	return "", false
}

// KeyByTokenAccount is a ratelimit.KeyFunc keying a login (the password
// grant) by "account:" and its username, read like KeyByTokenClient: a
// limit per account that guessing passwords from many clients or
// addresses cannot spread. A request without a username has no key, and
// requests without a key share one "anonymous" bucket, so give the
// limiter a fallback: with this one, a client's requests without a
// username are held to the login rate as well. Put it behind the
// per-client limiter:
//
//	perAccount := ratelimit.New(ratelimit.Config{
//		Limits: []ratelimit.Limit{{Name: "login", Events: 5, Per: time.Minute}},
//		Key:    ratelimit.FirstKey(issuer.KeyByTokenAccount, issuer.KeyByTokenClient),
//	})
func KeyByTokenAccount(r *http.Request) (string, bool) {
	p, ok := peekParams(r)
	if u := p.get("username"); ok && u != "" {
		return "account:" + u, true
	}
	return "", false
}

// peekParams parses r's body as the endpoints do and puts the bytes back.
func peekParams(r *http.Request) (params, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return params{}, false
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, DefaultTokenBodyBytes+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
	if err != nil || len(buf) > DefaultTokenBodyBytes {
		return params{}, false
	}
	mt, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return params{}, false
	}
	kind := map[string]string{"application/x-www-form-urlencoded": "form", "multipart/form-data": "multipart", "application/json": "json"}[mt]
	if kind == "" || kind == "multipart" && mp["boundary"] == "" {
		return params{}, false
	}
	p, e := parseBody(kind, mp["boundary"], buf)
	return p, e == nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
