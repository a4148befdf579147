package main

import (
	"context"
	stderrors "errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/examples/internal/demo"
	"github.com/tollgate/tollgate/issuer"
)

// maxFormBytes bounds a page's form body: a username, a password and a
// client id fit with room to spare.
const maxFormBytes = 16 << 10

// owners are the store owners who sign in on the marketplace's pages, by
// username, which is the tokens' subject.
type owners struct{ passwords *demo.Passwords }

func newOwners(hashes map[string]string, p issuer.Argon2Params) *owners {
	return &owners{passwords: demo.NewPasswords(hashes, p)}
}

// check returns the subject of the owner whose username and password
// these are; an empty username or password is no owner's.
func (o *owners) check(username, password string) (subject string, ok bool) {
	if !o.passwords.Check(username, password) || password == "" {
		return "", false
	}
	return username, true
}

// pages are the marketplace's own HTML pages: the login and consent page
// of the authorization endpoint and the store owner's list of authorized
// apps.
type pages struct {
	owners  *owners
	clients *issuer.Clients
	grants  *issuer.Grants
}

// scopeText tells a store owner what a scope lets an app do.
var scopeText = map[string]string{
	scopeStore:     "read your store's details",
	scopeOrder:     "read your orders",
	scopeInventory: "read and change your inventory",
}

type scopeView struct{ Name, Text string }

func describe(scopes []string) []scopeView {
	out := make([]scopeView, len(scopes))
	for i, s := range scopes {
		out[i] = scopeView{s, scopeText[s]}
	}
	return out
}

// consentView is what the consent page shows.
type consentView struct {
	Action   string // the authorization request's own URL: the form posts back to it
	Client   string
	Scopes   []scopeView
	Username string
	Message  string
}

// appView is one authorized app on the account page.
type appView struct {
	ClientID, Name string
	Scopes         []scopeView
	Since          time.Time
}

// appsView is what the account page shows.
type appsView struct {
	Username string
	Apps     []appView
	Message  string
}

// The pages. html/template escapes every value for where it lands: the
// client's name and the request's URL come from the client, the username
// from whoever posts the form.
var pageTemplates = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.}} · Marketplace</title></head>
<body><h1>{{.}}</h1>{{end}}

{{define "consent"}}{{template "head" "Authorize an app"}}
<p><strong>{{.Client}}</strong> asks to act for you on the marketplace. It will be able to:</p>
<ul>{{range .Scopes}}<li><code>{{.Name}}</code>{{with .Text}}: {{.}}{{end}}</li>{{end}}</ul>
{{with .Message}}<p role="alert">{{.}}</p>{{end}}
<form method="post" action="{{.Action}}">
<p><label>Username <input name="username" value="{{.Username}}" autocomplete="username" required></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
<p><button name="decision" value="allow">Allow</button>
<button name="decision" value="deny" formnovalidate>Deny</button></p>
</form>
</body></html>{{end}}

{{define "signin"}}{{template "head" "Your authorized apps"}}
{{with .Message}}<p role="alert">{{.}}</p>{{end}}
<form method="post" action="/account/apps">
<p><label>Username <input name="username" value="{{.Username}}" autocomplete="username" required></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
<p><button>Sign in</button></p>
</form>
</body></html>{{end}}

{{define "apps"}}{{template "head" "Your authorized apps"}}
{{with .Message}}<p role="alert">{{.}}</p>{{end}}
{{range .Apps}}
<section>
<h2>{{.Name}}</h2>
<p>Authorized {{.Since.Format "2006-01-02"}} to:</p>
<ul>{{range .Scopes}}<li><code>{{.Name}}</code>{{with .Text}}: {{.}}{{end}}</li>{{end}}</ul>
<form method="post" action="/account/apps/revoke">
<input type="hidden" name="username" value="{{$.Username}}">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button>Revoke</button></p>
</form>
</section>
{{else}}<p>No app has access to your store.</p>
{{end}}
</body></html>{{end}}

{{define "error"}}{{template "head" "The request cannot be completed"}}
<p>{{.Description}}.</p>
<p>Go back to the app and try again, or tell its developer.</p>
</body></html>{{end}}
`))

// render writes the page name with the headers every page carries: no
// framing (clickjacking of the Allow and Revoke buttons), no caching, no
// referrer (the authorization request's URL holds the state), nothing
// loaded from anywhere.
func render(w http.ResponseWriter, status int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pageTemplates.ExecuteTemplate(w, name, data); err != nil {
		slog.Error("marketplace: rendering a page failed", "page", name, "error", err)
	}
}

// postForm reads the form body alone: a value in the query never stands in
// for one the user typed.
func postForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm() == nil
}

// consent is the authorization endpoint's Interact: on GET, the form; on
// POST, Deny refuses, and Allow with the owner's password approves every
// scope asked for. A wrong password shows the form again with a message,
// with status 200: 401 would need a WWW-Authenticate challenge, and a form
// has none.
func (p *pages) consent(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest) {
	view := consentView{Action: r.URL.RequestURI(), Client: req.Client.Name, Scopes: describe(req.Scopes)}
	if view.Client == "" {
		view.Client = req.Client.ID
	}
	if r.Method != http.MethodPost {
		render(w, http.StatusOK, "consent", view)
		return
	}
	if !postForm(w, r) {
		view.Message = "The form could not be read."
		render(w, http.StatusBadRequest, "consent", view)
		return
	}
	switch r.PostForm.Get("decision") {
	case "deny":
		// No password: refusing gives nobody anything.
		req.Deny(w, r)
		return
	case "allow":
	default:
		view.Message = "Choose Allow or Deny."
		render(w, http.StatusBadRequest, "consent", view)
		return
	}
	view.Username = r.PostForm.Get("username")
	subject, ok := p.owners.check(view.Username, r.PostForm.Get("password"))
	if !ok {
		view.Message = "The username or password is wrong."
		render(w, http.StatusOK, "consent", view)
		return
	}
	// Approve answers the client itself, also when it fails.
	if err := req.Approve(w, r, subject, nil); err != nil {
		slog.ErrorContext(r.Context(), "marketplace: approving an authorization failed", "client_id", req.Client.ID, "error", err)
	}
}

// authorizeError is the authorization endpoint's ErrorPage: what cannot be
// sent back to the client is shown to the user.
func authorizeError(w http.ResponseWriter, _ *http.Request, e issuer.AuthorizeError) {
	render(w, e.Status, "error", e)
}

// signIn serves GET /account/apps: the sign-in form.
func (p *pages) signIn(w http.ResponseWriter, _ *http.Request) {
	render(w, http.StatusOK, "signin", appsView{})
}

// apps serves POST /account/apps: with the owner's password, the apps they
// authorized, each with a Revoke button.
func (p *pages) apps(w http.ResponseWriter, r *http.Request) {
	subject, view, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	p.list(w, r, subject, view)
}

// revoke serves POST /account/apps/revoke: with the owner's password, the
// app client_id loses the grant; its refresh tokens are refused and its
// access tokens from the next request on (Grants.Revoke,
// OnGrantRevoked). Then the remaining apps are listed.
func (p *pages) revoke(w http.ResponseWriter, r *http.Request) {
	subject, view, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	clientID := r.PostForm.Get("client_id")
	if clientID == "" {
		view.Message = "That app has no access to revoke."
		p.list(w, r, subject, view)
		return
	}
	name := p.name(r.Context(), clientID)
	err := p.grants.Revoke(r.Context(), subject, clientID)
	switch {
	case err == nil:
		view.Message = name + " no longer has access to your store."
	case stderrors.Is(err, issuer.ErrNotFound):
		view.Message = "That app has no access to revoke."
	default:
		slog.ErrorContext(r.Context(), "marketplace: revoking a grant failed", "client_id", clientID, "error", err)
		view.Message = "The app could not be revoked; try again later."
		render(w, http.StatusServiceUnavailable, "signin", view)
		return
	}
	p.list(w, r, subject, view)
}

// signedIn checks the form's username and password; without them it
// answers the sign-in form again.
func (p *pages) signedIn(w http.ResponseWriter, r *http.Request) (string, appsView, bool) {
	if !postForm(w, r) {
		render(w, http.StatusBadRequest, "signin", appsView{Message: "The form could not be read."})
		return "", appsView{}, false
	}
	view := appsView{Username: r.PostForm.Get("username")}
	subject, ok := p.owners.check(view.Username, r.PostForm.Get("password"))
	if !ok {
		view.Message = "The username or password is wrong."
		render(w, http.StatusOK, "signin", view)
		return "", appsView{}, false
	}
	return subject, view, true
}

// list answers the apps subject authorized.
func (p *pages) list(w http.ResponseWriter, r *http.Request, subject string, view appsView) {
	grants, err := p.grants.List(r.Context(), subject)
	if err != nil {
		slog.ErrorContext(r.Context(), "marketplace: listing grants failed", "error", err)
		view.Message = "Your apps cannot be listed; try again later."
		render(w, http.StatusServiceUnavailable, "signin", view)
		return
	}
	for _, g := range grants {
		view.Apps = append(view.Apps, appView{ClientID: g.ClientID, Name: p.name(r.Context(), g.ClientID), Scopes: describe(g.Scopes), Since: g.CreatedAt})
	}
	render(w, http.StatusOK, "apps", view)
}

// name is the client's registered name, or its id.
func (p *pages) name(ctx context.Context, clientID string) string {
	if cl, err := p.clients.Client(ctx, clientID); err == nil && cl.Name != "" {
		return cl.Name
	}
	return clientID
}
