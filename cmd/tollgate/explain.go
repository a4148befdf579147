package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	stderrors "errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/principal"
)

// allAsymmetric is -alg's default: every algorithm the verifier supports
// with public keys.
const allAsymmetric = "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA"

// explainFlags are the flags of `tollgate explain`.
type explainFlags struct {
	token, issuer, jwks, aud, algs, typ, roleClaims, clientIDs string
	leeway                                                     time.Duration
}

// runExplain is `tollgate explain`.
func runExplain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f explainFlags
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.token, "token", "", "the token; - reads it from standard input")
	fs.StringVar(&f.issuer, "issuer", "", "the issuer (its \"iss\"); without -jwks its keys are found by discovery")
	fs.StringVar(&f.jwks, "jwks", "", "the key set: an http(s) URL or a file holding a JWK Set")
	fs.StringVar(&f.aud, "aud", "", "accepted audiences, comma-separated (neither -aud nor -client-ids: any audience)")
	fs.StringVar(&f.algs, "alg", allAsymmetric, "accepted algorithms, comma-separated")
	fs.DurationVar(&f.leeway, "leeway", 30*time.Second, "clock skew allowed on exp, nbf and iat (0: none)")
	fs.StringVar(&f.typ, "typ", "", "the typ header every token must carry, e.g. at+jwt")
	fs.StringVar(&f.roleClaims, "role-claims", "", "claims roles are read from, comma-separated (e.g. roles,realm_access.roles)")
	fs.StringVar(&f.clientIDs, "client-ids", "", "client IDs accepted whatever the token's aud, comma-separated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tollgate explain: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	token := f.token
	if token == "-" {
		line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintf(stderr, "tollgate explain: reading the token: %v\n", err)
			return 2
		}
		token = strings.TrimSpace(line)
	}
	if token == "" {
		fmt.Fprintln(stderr, "tollgate explain: -token is required")
		return 2
	}
	cfg, notes, err := f.config(token)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate explain: %v\n", err)
		return 2
	}
	cfg.OnRefreshError = func(issuer string, err error) {
		fmt.Fprintf(stderr, "tollgate explain: fetching the keys of %s: %v\n", issuer, err)
	}
	ctx := context.Background()
	v, err := jwt.NewVerifier(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate explain: %v\n", err)
		return 2
	}
	defer v.Close()
	for _, n := range notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	ex := v.Explain(ctx, token)
	for _, s := range ex.Steps {
		detail := s.Detail
		if s.Outcome == jwt.NotReached {
			detail = "not reached"
		}
		fmt.Fprintf(stdout, "%-4s  %-18s  %s\n", s.Outcome, s.Name, detail)
	}
	fmt.Fprintln(stdout, verdict(ex.Principal, ex.Err))
	if ex.Err != nil {
		return 1
	}
	return 0
}

// verdict is the last line explain prints: what Verify returns.
func verdict(p *principal.Principal, err error) string {
	if err != nil {
		e := tgerrors.From(err)
		var why error = err
		var te *tgerrors.Error
		if stderrors.As(err, &te) && te.Err != nil {
			why = te.Err
		}
		return fmt.Sprintf("verdict: refused, %s (HTTP %d): %v", e.Kind, e.HTTPStatus(), why)
	}
	return fmt.Sprintf("verdict: accepted: sub %q, client %q, scopes %q, roles %q, expires %s",
		p.Subject(), p.ClientID(), p.Scopes(), p.Roles(), p.ExpiresAt().UTC().Format(time.RFC3339))
}

// config is the verifier configuration the flags describe, and notes on
// what they leave unchecked.
func (f *explainFlags) config(token string) (jwt.Config, []string, error) {
	var notes []string
	is := jwt.Issuer{
		Issuer:     f.issuer,
		Audiences:  list(f.aud),
		ClientIDs:  list(f.clientIDs),
		Algorithms: list(f.algs),
		RoleClaims: list(f.roleClaims),
	}
	if is.RequiredTyp = f.typ; f.typ == "" {
		notes = append(notes, "no -typ: any typ header is accepted (but an ID, refresh or logout token is refused)")
	}
	if len(is.Audiences) == 0 && len(is.ClientIDs) == 0 {
		is.AnyAudience = true
		notes = append(notes, "no -aud or -client-ids: any audience is accepted")
	}
	if f.issuer == "" && f.jwks == "" {
		return jwt.Config{}, nil, stderrors.New("give -issuer, -jwks or both")
	}
	if f.issuer == "" {
		// Only to name the issuer in the configuration: the verifier then
		// checks the token against it like any other.
		is.Issuer = unverifiedIssuer(token)
		notes = append(notes, fmt.Sprintf("no -issuer: the token's own iss %q is trusted, with the keys of -jwks", is.Issuer))
		if is.Issuer == "" {
			return jwt.Config{}, nil, stderrors.New("no -issuer, and the token names none")
		}
	}
	switch {
	case f.jwks == "":
	case strings.HasPrefix(f.jwks, "https://") || strings.HasPrefix(f.jwks, "http://"):
		is.JWKSURL = f.jwks
	default:
		keys, err := keysFromFile(f.jwks)
		if err != nil {
			return jwt.Config{}, nil, err
		}
		is.Keys = keys
	}
	leeway := f.leeway
	if leeway == 0 {
		leeway = -1 // Config's zero is its default; the flag's is none
	}
	return jwt.Config{Issuers: []jwt.Issuer{is}, Leeway: leeway, CacheSize: -1, FetchTimeout: 10 * time.Second}, notes, nil
}

func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// unverifiedIssuer reads the token's "iss" without verifying anything, to
// name the issuer when -issuer is not given; "" if it has none.
func unverifiedIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Iss
}

// keysFromFile reads a JWK Set (or a single JWK) into static keys. The
// verifier checks each key as it checks fetched ones.
func keysFromFile(name string) ([]jwt.StaticKey, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	set, err := jwk.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var keys []jwt.StaticKey
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if private, _ := jwk.IsPrivateKey(k); private {
			return nil, fmt.Errorf("%s: key %d holds private key material; give the public keys only", name, i)
		}
		pub, err := jwk.PublicRawKeyOf(k)
		if err != nil {
			return nil, fmt.Errorf("%s: key %d: %w", name, i, err)
		}
		sk := jwt.StaticKey{Public: pub}
		sk.ID, _ = k.KeyID()
		if a, ok := k.Algorithm(); ok {
			sk.Algorithm = a.String()
		}
		keys = append(keys, sk)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no key", name)
	}
	return keys, nil
}
