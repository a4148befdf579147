package issuer

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// validate checks what a registration must get right before any request
// relies on it: its redirect URIs, and that a public client asks for no
// grant that needs a secret.
func (c *Client) validate() error {
	if c.Public && c.AllowsGrant(GrantClientCredentials) {
		return fmt.Errorf("issuer: client %q: a public client cannot use client_credentials", c.ID)
	}
	for _, u := range c.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return fmt.Errorf("issuer: client %q: redirect URI %q: %w", c.ID, u, err)
		}
	}
	if c.AllowsGrant(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return fmt.Errorf("issuer: client %q: the authorization_code grant needs RedirectURIs", c.ID)
	}
	return nil
}

// checkRedirectURI refuses a redirect URI a code must never be sent to:
// relative, with a fragment (RFC 6749 §3.1.2) or userinfo (which makes
// "https://good@evil" read as good), a script scheme, or plain http to
// anything but a loopback address (RFC 9700 §2.6, RFC 8252 §7.3).
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("unparsable: %v", err)
	case !u.IsAbs():
		return fmt.Errorf("not absolute")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("has a fragment")
	case u.User != nil:
		return fmt.Errorf("has userinfo")
	case strings.ContainsAny(raw, " \t\r\n\\"):
		return fmt.Errorf("has whitespace or a backslash")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x21 || raw[i] > 0x7e {
			// An IDN host goes in as punycode (xn--…): a raw one could be a
			// homograph of another, and non-ASCII bytes never match a
			// client's percent-encoded request byte for byte.
			return fmt.Errorf("has a character outside printable ASCII; percent-encode it, and write a host in punycode")
		}
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
		if u.Hostname() == "" {
			return fmt.Errorf("no host")
		}
	case "http":
		if !loopbackHost(u.Hostname()) {
			return fmt.Errorf("http is for loopback addresses only; use https")
		}
	case "javascript", "data", "vbscript", "file", "blob", "about":
		return fmt.Errorf("scheme %s is not a redirect", scheme)
	default:
		// A native app's private-use scheme: reverse DNS (com.example.app),
		// RFC 8252 §7.1, so one app cannot claim another's generic name.
		if !strings.Contains(scheme, ".") {
			return fmt.Errorf("a private-use scheme is a reverse domain name (com.example.app)")
		}
	}
	return nil
}

// loopbackHost reports whether host is a loopback IP literal or
// "localhost".
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// redirectFor returns the redirect URI a request for c with redirect_uri
// raw goes to: raw itself if it equals one of c.RedirectURIs exactly, or
// c's only one when raw is empty (RFC 6749 §3.1.2.3). ok is false when
// the request names none and c has several, or names one c does not have.
func (c *Client) redirectFor(raw string) (uri string, ok bool) {
	if raw == "" {
		if len(c.RedirectURIs) == 1 {
			return c.RedirectURIs[0], true
		}
		return "", false
	}
	if slices.Contains(c.RedirectURIs, raw) {
		return raw, true
	}
	// RFC 8252 §7.3: a native app (a public client) listening on a
	// loopback IP gets a port from the system at each run, so the port
	// alone may differ from the registration's. Everything else still
	// matches byte for byte, and a confidential client's port too: its
	// server listens where it registered.
	if bare, ok := stripLoopbackPort(raw); ok && c.Public {
		for _, reg := range c.RedirectURIs {
			if r, ok := stripLoopbackPort(reg); ok && r == bare {
				return raw, true
			}
		}
	}
	return "", false
}

// stripLoopbackPort returns uri without its port, if uri is plain http to
// a loopback IP literal (127.0.0.0/8 or [::1]; not "localhost", which a
// resolver or firewall may send elsewhere: RFC 8252 §8.3).
func stripLoopbackPort(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, "http://")
	if !ok {
		return "", false
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	host, port := authority, ""
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.Contains(authority[i:], "]") {
		host, port = authority[:i], authority[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return "", false
		}
	}
	ip := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.IsLoopback() || a.Zone() != "" || (a.Is6() && host != "["+ip+"]") || a.String() != ip {
		return "", false
	}
	return "http://" + host + rest[end:], true
}
