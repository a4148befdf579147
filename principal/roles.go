package principal

import (
	"encoding/json"
	stderrors "errors"
	"fmt"
	"slices"
)

// ErrRoleClaim is the cause ParseRoles reports for a role claim it cannot
// read with certainty: a value of another type than those it knows, an
// array with a member that is not a string, or a path that names two
// different claims (see ParseRoles). Verifiers refuse such a token.
var ErrRoleClaim = stderrors.New("role claim malformed or ambiguous")

// ParseRoles collects the roles (or groups) granted by claims, reading the
// claim at each path in paths in order. There are no default paths: with
// none, a token has no roles, because no issuer's roles are in a standard
// claim and reading a claim by guess would grant what its issuer never
// meant as a role.
//
// # Paths
//
// A path names a claim, top-level or nested in JSON objects:
//
//	roles                                  Entra ID, and many others
//	groups                                 Okta
//	cognito:groups                         Amazon Cognito
//	realm_access.roles                     Keycloak realm roles
//	resource_access.orders-api.roles       Keycloak client roles of client orders-api
//	ext.roles                              a custom nested claim
//	urn:zitadel:iam:org:project:roles      ZITADEL (an object: its keys are the roles)
//	https://example.com/roles              an Auth0 namespaced claim
//
// Within an object, the whole remaining path is tried as one member name,
// so a claim whose name has dots in it (Auth0's
// "https://example.com/roles") is found as it is, and the path is also split
// at each dot into a member that holds an object and the rest of the path,
// looked up in that object the same way, so a segment may contain dots too
// (a Keycloak client ID such as "orders.api" in
// resource_access.orders.api.roles). If two of these readings (the whole
// name, or two different splits) both name a claim, the path is ambiguous
// and the token is refused (ErrRoleClaim) rather than read one way.
//
// # Values
//
// The claim a path names may be
//
//   - an array of strings: each is a role;
//   - a string: that one role, as it is (a group called "Domain Admins" is
//     one role, not two: the string is not split at spaces);
//   - an object: its member names are the roles, whatever their values
//     (ZITADEL's project roles), in sorted order;
//   - null, or absent: no roles from this path.
//
// Anything else refuses the token with ErrRoleClaim: a number, a boolean,
// or an array with any member that is not a string. Ignoring such a member
// would read a claim whose shape the issuer did not agree with this
// configuration, so the token's roles could not be known; failing closed
// also shows a misconfigured path at once. Empty strings grant nothing and
// are dropped, as are duplicates; the order of first appearance is kept.
func ParseRoles(claims map[string]any, paths ...string) ([]string, error) {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, path := range paths {
		v, found, err := lookupPath(claims, path)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		switch v := v.(type) {
		case nil:
		case string:
			add(v)
		case []string:
			for _, s := range v {
				add(s)
			}
		case []any:
			for i, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%w: %q: member %d is a %s, not a string", ErrRoleClaim, path, i, jsonType(e))
				}
				add(s)
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				add(k)
			}
		default:
			return nil, fmt.Errorf("%w: %q is a %s, not an array, string or object", ErrRoleClaim, path, jsonType(v))
		}
	}
	return out, nil
}

// lookupPath finds the claim path names in obj, as ParseRoles describes.
func lookupPath(obj map[string]any, path string) (any, bool, error) {
	var found any
	n := 0
	if v, ok := obj[path]; ok {
		// The whole path as one name; a split that also names a claim
		// makes it ambiguous, below.
		found, n = v, 1
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		sub, ok := obj[path[:i]].(map[string]any)
		if !ok {
			continue
		}
		v, ok, err := lookupPath(sub, path[i+1:])
		if err != nil {
			return nil, false, err
		}
		if ok {
			found = v
			n++
		}
	}
	if n > 1 {
		return nil, false, fmt.Errorf("%w: %q names %d different claims", ErrRoleClaim, path, n)
	}
	return found, n == 1, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
