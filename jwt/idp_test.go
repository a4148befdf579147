package jwt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

func TestClientIDsStandInForTheAudience(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	is := jwksIssuer(iss)
	is.Audiences, is.ClientIDs = []string{testAudience}, []string{"app-1"}
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	tests := []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"Cognito: no aud, the client in client_id", map[string]any{"aud": nil, "client_id": "app-1", "token_use": "access"}, true},
		{"Keycloak: aud account, the client in azp", map[string]any{"aud": "account", "azp": "app-1"}, true},
		{"ZITADEL: the client ID in aud and client_id", map[string]any{"aud": []any{"314159", "app-1"}, "client_id": "app-1"}, true},
		{"Okta: the client in cid", map[string]any{"aud": "api://default", "cid": "app-1"}, true},
		{"Entra ID v1: the client in appid", map[string]any{"aud": "00000003-0000-0000-c000-000000000000", "appid": "app-1"}, true},
		{"the API's audience still passes without a client", map[string]any{"aud": testAudience}, true},
		{"another client", map[string]any{"aud": "account", "azp": "app-2"}, false},
		{"a client ID of another case", map[string]any{"aud": nil, "client_id": "APP-1"}, false},
		{"a client ID with a suffix", map[string]any{"aud": nil, "client_id": "app-10"}, false},
		{"the first client claim decides: client_id before azp", map[string]any{"aud": nil, "client_id": "app-2", "azp": "app-1"}, false},
		{"a listed client ID in aud alone is no client", map[string]any{"aud": "app-1"}, false},
		{"a client ID that is no string", map[string]any{"aud": nil, "client_id": []any{"app-1"}}, false},
		{"neither aud nor client", map[string]any{"aud": nil}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := iss.Mint(claims(tt.claims))
			if tt.ok {
				mustVerify(t, v, token)
				return
			}
			p, err := v.Verify(context.Background(), token)
			wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTAudience)
		})
	}
}

func TestClientIDsAloneAreEnoughConfiguration(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	is := jwksIssuer(iss)
	is.Audiences, is.ClientIDs = nil, []string{"app-1"}
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	if p := mustVerify(t, v, iss.Mint(claims(map[string]any{"aud": nil, "appid": "app-1"}))); p.ClientID() != "app-1" {
		t.Errorf("ClientID = %q, want the appid", p.ClientID())
	}
	p, err := v.Verify(context.Background(), iss.Mint(claims(nil)))
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTAudience)
}

// tenantKeys serves, at /<tenant>/keys, the key set of the issuer that
// signs for that tenant, and counts the requests per path.
type tenantKeys struct {
	*httptest.Server
	mu    sync.Mutex
	asked map[string]int
}

func newTenantKeys(t *testing.T, byTenant map[string]*authtest.Issuer) *tenantKeys {
	k := &tenantKeys{asked: map[string]int{}}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.asked[r.URL.Path]++
		k.mu.Unlock()
		tenant, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/keys")
		if iss := byTenant[tenant]; ok && iss != nil {
			_, _ = w.Write(iss.JWKS())
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *tenantKeys) requests() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, c := range k.asked {
		n += c
	}
	return n
}

const entraTemplate = "https://login.example.com/{tenantid}/v2.0"

func entraIss(tenant string) string {
	return strings.ReplaceAll(entraTemplate, TenantPlaceholder, tenant)
}

func TestTenantTemplateWithAKeySetPerTenant(t *testing.T) {
	clock := newTestClock()
	a, b := newIssuer(t, clock), newIssuer(t, clock)
	keys := newTenantKeys(t, map[string]*authtest.Issuer{"tenant-a": a, "tenant-b": b})
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{{
		Issuer: entraTemplate, JWKSURL: keys.URL + "/{tenantid}/keys", Tenants: []string{"tenant-a", "tenant-b"},
		Audiences: []string{testAudience}, Algorithms: []string{"RS256"},
	}}})
	if rec.count() != 0 || keys.requests() != 2 {
		t.Fatalf("start-up: %d key-set requests, errors %v; want one per tenant", keys.requests(), rec.errs)
	}
	p := mustVerify(t, v, a.Mint(claims(map[string]any{"iss": entraIss("tenant-a"), "tid": "tenant-a"})))
	if p.Issuer() != entraIss("tenant-a") {
		t.Errorf("Issuer = %q, want the token's iss", p.Issuer())
	}
	mustVerify(t, v, b.Mint(claims(map[string]any{"iss": entraIss("tenant-b"), "tid": "tenant-b"})))

	tests := []struct {
		name  string
		token string
		cause error
	}{
		{"tenant A's token signed by tenant B's key", b.Mint(claims(map[string]any{"iss": entraIss("tenant-a"), "tid": "tenant-a"})), errJWTNoKey},
		{"tenant A's token signed by tenant B's key under A's kid", b.Mint(claims(map[string]any{"iss": entraIss("tenant-a"), "tid": "tenant-a"}), authtest.WithKID(a.KID(authtest.RS256))), errJWTSignature},
		{"tid naming another tenant", a.Mint(claims(map[string]any{"iss": entraIss("tenant-a"), "tid": "tenant-b"})), errJWTTenant},
		{"no tid", a.Mint(claims(map[string]any{"iss": entraIss("tenant-a")})), errJWTTenant},
		{"a tid that is no string", a.Mint(claims(map[string]any{"iss": entraIss("tenant-a"), "tid": []any{"tenant-a"}})), errJWTTenant},
		{"a tenant not in Tenants", a.Mint(claims(map[string]any{"iss": entraIss("tenant-c"), "tid": "tenant-c"})), errJWTTenant},
		{"a tenant of another case", a.Mint(claims(map[string]any{"iss": entraIss("Tenant-a"), "tid": "Tenant-a"})), errJWTTenant},
		{"the template itself", a.Mint(claims(map[string]any{"iss": entraTemplate, "tid": TenantPlaceholder})), errJWTUnknownIssuer},
	}
	for _, seg := range []string{"", "tenant-a/x", "tenant.a", "..", "%74enant-a", "tenant-a?", "tenant-a#", "tenant a", strings.Repeat("a", 65)} {
		tests = append(tests, struct {
			name  string
			token string
			cause error
		}{"tenant segment " + seg, a.Mint(claims(map[string]any{"iss": entraIss(seg), "tid": seg})), errJWTUnknownIssuer})
	}
	before := keys.requests()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.token)
			wantRefusal(t, p, err, tgerrors.InvalidToken, tt.cause)
		})
	}
	if got := keys.requests() - before; got > 1 {
		t.Errorf("refused tokens caused %d key-set fetches; want at most the one for tenant A's unknown kid", got)
	}
}

func TestTenantTemplateWithSharedKeys(t *testing.T) {
	clock := newTestClock()
	common := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{{
		Issuer: entraTemplate, JWKSURL: common.JWKSURL(),
		Audiences: []string{testAudience}, Algorithms: []string{"RS256"},
	}}})
	for _, tenant := range []string{"9188040d-6c67-4c5b-b112-36a304b66dad", "contoso"} {
		p := mustVerify(t, v, common.Mint(claims(map[string]any{"iss": entraIss(tenant), "tid": tenant})))
		if p.Issuer() != entraIss(tenant) {
			t.Errorf("Issuer = %q", p.Issuer())
		}
	}
	p, err := v.Verify(context.Background(), common.Mint(claims(map[string]any{"iss": entraIss("contoso"), "tid": "fabrikam"})))
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTTenant)
	if got := common.FetchCount(); got != 1 {
		t.Errorf("JWKS fetches = %d, want 1: every tenant shares the one set", got)
	}
	t.Run("with Tenants, only the listed tenants", func(t *testing.T) {
		v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{{
			Issuer: entraTemplate, JWKSURL: common.JWKSURL(), Tenants: []string{"contoso"},
			Audiences: []string{testAudience}, Algorithms: []string{"RS256"},
		}}})
		mustVerify(t, v, common.Mint(claims(map[string]any{"iss": entraIss("contoso"), "tid": "contoso"})))
		p, err := v.Verify(context.Background(), common.Mint(claims(map[string]any{"iss": entraIss("fabrikam"), "tid": "fabrikam"})))
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTTenant)
	})
}

func TestTenantTemplateWithDiscoveryPerTenant(t *testing.T) {
	clock := newTestClock()
	a, b := newIssuer(t, clock), newIssuer(t, clock)
	keys := newTenantKeys(t, map[string]*authtest.Issuer{"tenant-a": a, "tenant-b": b})
	// Each tenant's metadata names its own issuer and, as Entra's does, a
	// key set of its own.
	var metadataRequests atomic.Int64
	m := httptest.NewUnstartedServer(nil)
	m.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metadataRequests.Add(1)
		tenant, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/v2.0/.well-known/openid-configuration")
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(metadata(m.URL+"/"+tenant+"/v2.0", keys.URL+"/{tenantid}/keys")))
	})
	m.Start()
	t.Cleanup(m.Close)
	template := m.URL + "/{tenantid}/v2.0"
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{{
		Issuer: template, Tenants: []string{"tenant-a", "tenant-b"},
		Audiences: []string{testAudience}, Algorithms: []string{"RS256"},
	}}})
	if rec.count() != 0 {
		t.Fatalf("start-up: %v", rec.errs)
	}
	if metadataRequests.Load() != 2 || keys.requests() != 2 {
		t.Errorf("start-up: %d metadata and %d key-set requests, want 2 and 2", metadataRequests.Load(), keys.requests())
	}
	issOf := func(tenant string) string { return strings.ReplaceAll(template, TenantPlaceholder, tenant) }
	mustVerify(t, v, a.Mint(claims(map[string]any{"iss": issOf("tenant-a"), "tid": "tenant-a"})))
	mustVerify(t, v, b.Mint(claims(map[string]any{"iss": issOf("tenant-b"), "tid": "tenant-b"})))
	p, err := v.Verify(context.Background(), b.Mint(claims(map[string]any{"iss": issOf("tenant-a"), "tid": "tenant-a"})))
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
}

func TestAliasesShareTheIssuersKeysAndRules(t *testing.T) {
	clock := newTestClock()
	google := newIssuer(t, clock)
	is := jwksIssuer(google)
	is.Aliases = []string{"accounts.example.com"}
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	for _, iss := range []string{google.URL(), "accounts.example.com"} {
		if p := mustVerify(t, v, google.Mint(claims(map[string]any{"iss": iss}))); p.Issuer() != iss {
			t.Errorf("Issuer = %q, want %q", p.Issuer(), iss)
		}
	}
	for _, iss := range []string{"https://accounts.example.com", "Accounts.example.com", "accounts.example.com/"} {
		p, err := v.Verify(context.Background(), google.Mint(claims(map[string]any{"iss": iss})))
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTUnknownIssuer)
	}
	p, err := v.Verify(context.Background(), google.Mint(claims(map[string]any{"iss": "accounts.example.com", "aud": "other-api"})))
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTAudience)
	if got := google.FetchCount(); got != 1 {
		t.Errorf("JWKS fetches = %d, want 1", got)
	}
}

func TestMaxLifetimeBoundsTheToken(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	is := jwksIssuer(iss)
	is.MaxLifetime = time.Hour
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}, Leeway: 30 * time.Second})
	now := clock.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	tests := []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"one hour from iat", map[string]any{"iat": at(0), "exp": at(time.Hour)}, true},
		{"one hour and the leeway from iat", map[string]any{"iat": at(0), "exp": at(time.Hour + 30*time.Second)}, true},
		{"past the lifetime and the leeway", map[string]any{"iat": at(0), "exp": at(time.Hour + 31*time.Second)}, false},
		{"minted for 2100", map[string]any{"iat": at(0), "exp": time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}, false},
		{"issued long ago, expiring soon", map[string]any{"iat": at(-2 * time.Hour), "exp": at(time.Minute)}, false},
		{"no iat, expiring within the lifetime", map[string]any{"iat": nil, "exp": at(50 * time.Minute)}, true},
		{"no iat, expiring past the lifetime", map[string]any{"iat": nil, "exp": at(2 * time.Hour)}, false},
		{"no iat, minted for 2100", map[string]any{"iat": nil, "exp": time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := iss.Mint(claims(tt.claims))
			if tt.ok {
				mustVerify(t, v, token)
				return
			}
			p, err := v.Verify(context.Background(), token)
			wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTLifetime)
		})
	}
	t.Run("without MaxLifetime a token for 2100 passes, as before", func(t *testing.T) {
		v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
		mustVerify(t, v, iss.Mint(claims(map[string]any{"exp": time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()})))
	})
}

func TestKeySetRefreshDefaults(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	r := v.remotes[0]
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 5 * time.Minute},
		{"public", 5 * time.Minute},
		{"no-store", time.Minute},
		{"no-cache", time.Minute},
		{"private, no-store, max-age=0", time.Minute},
		{"max-age=0", time.Minute},
		{"max-age=3600", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			iss.SetCacheControl(tt.header)
			if err := v.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			r.mu.Lock()
			got := r.nextRefresh
			r.mu.Unlock()
			if got != tt.want {
				t.Errorf("next refresh in %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeySetWithoutCacheControlGoesStaleOnTheFiveMinuteSchedule(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, StaleLimit: time.Minute})
	mustVerify(t, v, iss.Mint(claims(nil)))
	iss.SetFailing(http.StatusServiceUnavailable)
	clock.Advance(6*time.Minute + time.Second)
	p, err := v.Verify(context.Background(), iss.Mint(claims(map[string]any{"jti": "new"})))
	wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
}

func TestIdentityProviderConfigErrors(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	base := Issuer{Issuer: entraTemplate, JWKSURL: iss.JWKSURL(), Audiences: []string{testAudience}, Algorithms: []string{"RS256"}}
	with := func(f func(*Issuer)) []Issuer {
		is := base
		f(&is)
		return []Issuer{is}
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"per-tenant key sets without Tenants", Config{Issuers: with(func(is *Issuer) { is.JWKSURL = iss.URL() + "/{tenantid}/keys" })}},
		{"discovery per tenant without Tenants", Config{Issuers: with(func(is *Issuer) { is.JWKSURL = "" })}},
		{"an empty Tenants", Config{Issuers: with(func(is *Issuer) { is.Tenants = []string{} })}},
		{"a tenant ID with a slash", Config{Issuers: with(func(is *Issuer) { is.Tenants = []string{"a/b"} })}},
		{"a tenant ID with a dot", Config{Issuers: with(func(is *Issuer) { is.Tenants = []string{"a.b"} })}},
		{"a tenant listed twice", Config{Issuers: with(func(is *Issuer) { is.Tenants = []string{"a", "a"} })}},
		{"the placeholder twice", Config{Issuers: with(func(is *Issuer) { is.Issuer = "https://x.example/{tenantid}/{tenantid}" })}},
		{"the placeholder in the host", Config{Issuers: with(func(is *Issuer) { is.Issuer = "https://{tenantid}.example.com/" })}},
		{"the placeholder in an issuer that is no URL", Config{Issuers: with(func(is *Issuer) { is.Issuer = "{tenantid}" })}},
		{"Tenants without the placeholder", Config{Issuers: with(func(is *Issuer) { is.Issuer, is.Tenants = iss.URL(), []string{"a"} })}},
		{"a JWKS URL placeholder without an issuer placeholder", Config{Issuers: with(func(is *Issuer) {
			is.Issuer, is.JWKSURL, is.Tenants = iss.URL(), iss.URL()+"/{tenantid}/keys", nil
		})}},
		{"a per-tenant JWKS URL on plain http to a remote host", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.Tenants = "http://keys.example.com/{tenantid}/keys", []string{"a"}
		})}},
		{"a template listed twice", Config{Issuers: []Issuer{base, base}}},
		{"aliases on a template", Config{Issuers: with(func(is *Issuer) { is.Aliases = []string{"x"} })}},
		{"an alias holding the placeholder", Config{Issuers: with(func(is *Issuer) { is.Issuer, is.Aliases = iss.URL(), []string{entraTemplate} })}},
		{"an empty alias", Config{Issuers: with(func(is *Issuer) { is.Issuer, is.Aliases = iss.URL(), []string{""} })}},
		{"an alias equal to the issuer", Config{Issuers: with(func(is *Issuer) { is.Issuer, is.Aliases = iss.URL(), []string{iss.URL()} })}},
		{"an alias naming another issuer", Config{Issuers: []Issuer{
			{Issuer: "https://b.example", JWKSURL: iss.JWKSURL(), Audiences: []string{testAudience}, Algorithms: []string{"RS256"}},
			{Issuer: iss.URL(), Aliases: []string{"https://b.example"}, JWKSURL: iss.JWKSURL(), Audiences: []string{testAudience}, Algorithms: []string{"RS256"}},
		}}},
		{"an empty client ID", Config{Issuers: with(func(is *Issuer) { is.ClientIDs = []string{""} })}},
		{"neither Audiences, ClientIDs nor AnyAudience", Config{Issuers: with(func(is *Issuer) { is.Audiences = nil })}},
		{"a negative MaxLifetime", Config{Issuers: with(func(is *Issuer) { is.MaxLifetime = -time.Second })}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := iss.FetchCount()
			v, err := NewVerifier(context.Background(), tt.cfg)
			if err == nil {
				_ = v.Close()
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), "jwt: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
			if iss.FetchCount() != before {
				t.Error("a refused configuration fetched keys")
			}
		})
	}
}

// TestStartUpFetchesEveryKeySetAtOnce: the key-set server answers only
// once both tenants' fetches have arrived, so fetches made one after the
// other would time out.
func TestStartUpFetchesEveryKeySetAtOnce(t *testing.T) {
	clock := newTestClock()
	a := newIssuer(t, clock)
	var arrived atomic.Int64
	both := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == 2 {
			close(both)
		}
		select {
		case <-both:
			_, _ = w.Write(a.JWKS())
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	_, rec := newVerifier(t, clock, Config{FetchTimeout: 2 * time.Second, Issuers: []Issuer{{
		Issuer: entraTemplate, JWKSURL: srv.URL + "/{tenantid}/keys", Tenants: []string{"tenant-a", "tenant-b"},
		Audiences: []string{testAudience}, Algorithms: []string{"RS256"},
	}}})
	if rec.count() != 0 {
		t.Errorf("start-up fetches failed: %v", rec.errs)
	}
}

// FuzzTenantTemplateMatch: whatever iss a template matches, the tenant it
// extracts is a valid tenant ID that, put back into the template, gives iss
// again, so one tenant has one spelling and cannot reach outside its
// segment.
func FuzzTenantTemplateMatch(f *testing.F) {
	for _, s := range []string{entraIss("tenant-a"), entraIss(""), entraIss("a/b"), entraIss("a.b"), entraIss("%2e%2e"),
		entraIss(entraIss("x")), "https://login.example.com//v2.0", "https://login.example.com/v2.0"} {
		f.Add(s)
	}
	prefix, suffix, _ := strings.Cut(entraTemplate, TenantPlaceholder)
	tt := &tenantTemplate{prefix: prefix, suffix: suffix}
	f.Fuzz(func(t *testing.T, iss string) {
		id, ok := tt.match(iss)
		if !ok {
			return
		}
		if !validTenantID(id) || strings.ContainsAny(id, "/?#%.") {
			t.Fatalf("match(%q) gave tenant %q", iss, id)
		}
		if entraIss(id) != iss {
			t.Fatalf("match(%q) gave tenant %q, which spells %q", iss, id, entraIss(id))
		}
	})
}
