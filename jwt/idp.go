package jwt

import (
	"context"
	stderrors "errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/discovery"
)

// TenantPlaceholder, in Issuer.Issuer and Issuer.JWKSURL, stands for a
// tenant ID: see Issuer.Tenants.
const TenantPlaceholder = "{tenantid}"

// maxTenantIDLen bounds the tenant ID TenantPlaceholder matches.
const maxTenantIDLen = 64

var (
	errJWTTenant   = stderrors.New("tenant not accepted")
	errJWTLifetime = stderrors.New("token lifetime longer than the issuer allows")
)

// idp is what an Issuer adds for third-party identity providers: client-ID
// audiences, tenant templates, aliases and a lifetime bound.
type idp struct {
	clientIDs     []string
	maxLifetime   time.Duration
	tenant        *tenantTemplate        // nil unless Issuer holds TenantPlaceholder
	tenants       []string               // the allow-list; nil: any tenant
	tenantRemotes map[string]*jwksSource // per-tenant key sets, by tenant ID; nil: shared
	aliases       []string
}

// tenantTemplate is an issuer of the form prefix + TenantPlaceholder + suffix.
type tenantTemplate struct{ prefix, suffix string }

// match returns the tenant ID iss holds, if iss fits the template. The ID
// is 1 to maxTenantIDLen letters, digits and hyphens: no '/', '?', '#',
// '%' or '.', so it is one path segment that cannot be spelled two ways or
// step out of its place.
func (t *tenantTemplate) match(iss string) (string, bool) {
	if len(iss) <= len(t.prefix)+len(t.suffix) || !strings.HasPrefix(iss, t.prefix) || !strings.HasSuffix(iss, t.suffix) {
		return "", false
	}
	id := iss[len(t.prefix) : len(iss)-len(t.suffix)]
	return id, validTenantID(id)
}

func validTenantID(id string) bool {
	if id == "" || len(id) > maxTenantIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func withTenant(s, tenant string) string {
	return strings.ReplaceAll(s, TenantPlaceholder, tenant)
}

// usesDiscovery tells whether is finds its key set through its metadata.
func usesDiscovery(is Issuer) bool {
	return is.JWKSURL == "" && len(is.Keys) == 0 && len(is.HMACSecret) == 0 && is.KeySource == nil
}

// checkDiscoverable refuses, at start-up, an issuer without a key source
// whose metadata could not be fetched.
func checkDiscoverable(issuer string) error {
	if _, _, err := discovery.URLs(withTenant(issuer, "tenant")); err != nil {
		return fmt.Errorf("no JWKSURL, Keys, KeySource or HMACSecret, and the issuer cannot be discovered: %w", err)
	}
	return nil
}

// compileIdentityProvider checks and compiles ClientIDs, Aliases, Tenants,
// MaxLifetime and a tenant template into ji.
func compileIdentityProvider(is Issuer, ji *jwtIssuer) error {
	if slices.Contains(is.ClientIDs, "") {
		return stderrors.New("an empty string in ClientIDs")
	}
	if is.MaxLifetime < 0 {
		return fmt.Errorf("MaxLifetime is negative (%v)", is.MaxLifetime)
	}
	ji.clientIDs = slices.Clone(is.ClientIDs)
	ji.maxLifetime = is.MaxLifetime
	for _, a := range is.Aliases {
		switch {
		case a == "":
			return stderrors.New("an empty string in Aliases")
		case a == is.Issuer || slices.Contains(ji.aliases, a):
			return fmt.Errorf("alias %q is listed twice", a)
		case strings.Contains(a, TenantPlaceholder):
			return fmt.Errorf("alias %q holds %s; only Issuer may", a, TenantPlaceholder)
		}
		ji.aliases = append(ji.aliases, a)
	}
	for _, t := range is.Tenants {
		if !validTenantID(t) {
			return fmt.Errorf("tenant %q is not 1 to %d letters, digits and hyphens", t, maxTenantIDLen)
		}
		if slices.Contains(ji.tenants, t) {
			return fmt.Errorf("tenant %q is listed twice", t)
		}
		ji.tenants = append(ji.tenants, t)
	}
	if ji.tenants == nil && is.Tenants != nil {
		return stderrors.New("an empty Tenants: no tenant could ever be accepted (nil accepts any)")
	}
	jwksPerTenant := strings.Contains(is.JWKSURL, TenantPlaceholder)
	switch n := strings.Count(is.Issuer, TenantPlaceholder); {
	case n == 0:
		if is.Tenants != nil {
			return fmt.Errorf("a Tenants list, but Issuer holds no %s", TenantPlaceholder)
		}
		if jwksPerTenant {
			return fmt.Errorf("JWKSURL holds %s but Issuer does not", TenantPlaceholder)
		}
		return nil
	case n > 1:
		return fmt.Errorf("Issuer holds %s more than once", TenantPlaceholder)
	}
	if len(is.Aliases) > 0 {
		return fmt.Errorf("an Issuer holding %s cannot have Aliases", TenantPlaceholder)
	}
	prefix, suffix, _ := strings.Cut(is.Issuer, TenantPlaceholder)
	u, err := url.Parse(withTenant(is.Issuer, "tenant"))
	_, afterScheme, _ := strings.Cut(prefix, "://")
	if err != nil || u.Host == "" || !strings.Contains(afterScheme, "/") {
		return fmt.Errorf("Issuer must hold %s in the path of an absolute URL, as in https://login.microsoftonline.com/%s/v2.0", TenantPlaceholder, TenantPlaceholder)
	}
	if len(is.ClientIDs) > 0 && ji.tenants == nil {
		// Any tenant can register an application and mint tokens for its
		// own API issued to a listed client (a public one, say): with
		// every tenant admitted, ClientIDs would accept them.
		return stderrors.New("ClientIDs on an Issuer that admits every tenant would accept tokens any tenant mints for its own APIs: list the accepted Tenants, or use Audiences")
	}
	if (jwksPerTenant || usesDiscovery(is)) && ji.tenants == nil {
		return stderrors.New("each tenant has its own key set (JWKSURL holds " + TenantPlaceholder + ", or keys are discovered): list the accepted Tenants, so that tokens of unknown tenants cause no fetch, or set JWKSURL to the key set every tenant shares")
	}
	ji.tenant = &tenantTemplate{prefix: prefix, suffix: suffix}
	return nil
}

// addIssuer gives ji its key sources and enters it under its names.
func (v *Verifier) addIssuer(ji *jwtIssuer, is Issuer, c *Config) error {
	if ji.tenant != nil {
		for _, other := range v.templates {
			if other.name == ji.name {
				return fmt.Errorf("issuer %q is listed twice", ji.name)
			}
		}
	}
	names := append([]string{is.Issuer}, ji.aliases...)
	if ji.tenant == nil {
		for _, n := range names {
			if _, dup := v.issuers[n]; dup {
				return fmt.Errorf("issuer %q is listed twice", n)
			}
		}
	}
	source := func(issuer, jwksURL, discover, tenant string) *jwksSource {
		r := newJWKSSource(issuer, jwksURL, c)
		r.discover, r.tenant = discover, tenant
		v.remotes = append(v.remotes, r)
		return r
	}
	discover := usesDiscovery(is)
	switch {
	case ji.tenant != nil && (discover || strings.Contains(is.JWKSURL, TenantPlaceholder)):
		ji.tenantRemotes = make(map[string]*jwksSource, len(ji.tenants))
		for _, t := range ji.tenants {
			iss := withTenant(is.Issuer, t)
			if discover {
				ji.tenantRemotes[t] = source(iss, "", iss, t)
			} else {
				ji.tenantRemotes[t] = source(iss, withTenant(is.JWKSURL, t), "", t)
			}
		}
	case discover:
		ji.remote = source(is.Issuer, "", is.Issuer, "")
	case is.JWKSURL != "":
		ji.remote = source(is.Issuer, is.JWKSURL, "", "")
	}
	if ji.tenant != nil {
		v.templates = append(v.templates, ji)
		return nil
	}
	for _, n := range names {
		v.issuers[n] = ji
	}
	return nil
}

// issuerOf returns the issuer a token's iss picks, exactly or by a tenant
// template (the first in Config order that fits), and the key source of its
// tenant. A template's tenant must equal the token's "tid" and be on the
// issuer's list, if it has one. No key is looked up and nothing is fetched.
func (v *Verifier) issuerOf(iss string, claims map[string]any) (*jwtIssuer, *jwksSource, error) {
	if is := v.issuers[iss]; is != nil {
		return is, is.remote, nil
	}
	for _, is := range v.templates {
		tenant, ok := is.tenant.match(iss)
		if !ok {
			continue
		}
		if tid, _ := claims["tid"].(string); tid != tenant {
			return nil, nil, refuseInvalid(fmt.Errorf("%w: iss names tenant %q, tid %q", errJWTTenant, tenant, tid))
		}
		if is.tenants != nil && !slices.Contains(is.tenants, tenant) {
			return nil, nil, refuseInvalid(fmt.Errorf("%w: %q is not in Tenants", errJWTTenant, tenant))
		}
		if is.tenantRemotes != nil {
			r := is.tenantRemotes[tenant]
			if r == nil {
				return nil, nil, refuseInvalid(fmt.Errorf("%w: %q has no key set", errJWTTenant, tenant))
			}
			return is, r, nil
		}
		return is, is.remote, nil
	}
	return nil, nil, refuseInvalid(fmt.Errorf("%w: %q", errJWTUnknownIssuer, iss))
}

// acceptsClient tells whether the token's client ID is one of ClientIDs.
func (is *jwtIssuer) acceptsClient(claims map[string]any) bool {
	if len(is.clientIDs) == 0 {
		return false
	}
	for _, name := range is.clientIDClaims {
		if s, ok := claims[name].(string); ok && s != "" {
			return slices.Contains(is.clientIDs, s)
		}
	}
	return false
}

// checkLifetime refuses a token that lives longer than MaxLifetime, from
// its iat or, without one, from now, with leeway for the clocks.
func (is *jwtIssuer) checkLifetime(tc *tokenTimes, now time.Time, leeway time.Duration) error {
	if is.maxLifetime <= 0 {
		return nil
	}
	from := now
	if tc.hasIAT {
		from = tc.iat
	}
	if life := tc.exp.Sub(from); life > is.maxLifetime+leeway {
		return fmt.Errorf("%w: exp %v is %v after %v; MaxLifetime %v", errJWTLifetime, tc.exp, life, from, is.maxLifetime)
	}
	return nil
}

// keySetURL is the URL to fetch the key set from: the configured one, or
// the jwks_uri of the issuer's metadata, read now, with the fetch's
// deadline, client and redirect policy, and held to the rules of JWKSURL.
func (r *jwksSource) keySetURL(ctx context.Context) (string, error) {
	if r.discover == "" {
		return r.url, nil
	}
	md, err := discovery.Fetch(ctx, r.client, r.discover, r.maxBytes)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	u := md.JWKSURI
	if u == "" {
		return "", fmt.Errorf("discovery: GET %s: no jwks_uri", md.URL)
	}
	if r.tenant != "" {
		u = withTenant(u, r.tenant)
	}
	if strings.Contains(u, TenantPlaceholder) {
		return "", fmt.Errorf("discovery: GET %s: jwks_uri %q names no tenant", md.URL, u)
	}
	if err := checkJWKSURL(u); err != nil {
		return "", fmt.Errorf("discovery: GET %s: jwks_uri: %w", md.URL, err)
	}
	return u, nil
}
