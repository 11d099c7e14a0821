package template

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Request makes a source of an HTTP request's path values (r.PathValue,
// from the route pattern's wildcards) and, failing those, its query
// parameters. Only single-element placeholders ({id}, not {user.id}) look
// here: a request has no nested values.
//
// A wildcard the route pattern declares always comes from the path, even
// when it matched the empty string, so a query parameter of the same name
// can never stand in for it: the handler reads the path value and the guard
// must check the same one. A query parameter given more than once is an
// error rather than a choice, since frameworks disagree on which copy wins
// and the guard must not check one copy while the handler reads another.
func Request(r *http.Request) Source {
	return Source{v: r, kind: srcRequest}
}

func lookupRequest(r *http.Request, path []string) (string, bool, error) {
	if r == nil || len(path) != 1 {
		return "", false, nil
	}
	name := path[0]
	if v := r.PathValue(name); v != "" {
		return v, true, nil
	}
	if declaresWildcard(r.Pattern, name) {
		return "", true, nil
	}
	if r.URL == nil {
		return "", false, nil
	}
	return queryValue(r.URL.RawQuery, name)
}

// declaresWildcard reports whether a net/http route pattern has the wildcard
// {name} or {name...}.
func declaresWildcard(pat, name string) bool {
	for {
		open := strings.IndexByte(pat, '{')
		if open < 0 {
			return false
		}
		pat = pat[open+1:]
		end := strings.IndexByte(pat, '}')
		if end < 0 {
			return false
		}
		if w := strings.TrimSuffix(pat[:end], "..."); w == name {
			return true
		}
		pat = pat[end+1:]
	}
}

// queryValue finds name in a raw query string the way url.ParseQuery reads
// it (pairs containing ';' are dropped, badly escaped pairs are skipped),
// without building the whole url.Values map on every call.
func queryValue(query, name string) (string, bool, error) {
	var value string
	count := 0
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		key, val, _ := strings.Cut(pair, "=")
		if escaped(key) {
			k, err := url.QueryUnescape(key)
			if err != nil {
				continue
			}
			key = k
		}
		if key != name {
			continue
		}
		if escaped(val) {
			v, err := url.QueryUnescape(val)
			if err != nil {
				continue
			}
			val = v
		}
		count++
		value = val
	}
	if count > 1 {
		return "", true, &valueError{reason: fmt.Sprintf("query parameter %q is given %d times", name, count)}
	}
	return value, count == 1, nil
}

// escaped reports whether a query key or value needs unescaping. It is a
// plain loop because strings.ContainsAny searches once per character in its
// set and dominated the cost of resolving from a query.
func escaped(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			return true
		}
	}
	return false
}
