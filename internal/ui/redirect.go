package ui

import (
	"net/url"
	"strings"
)

// LocalPath returns next when it is a path on this site to send a browser
// to after a form (sign-in's "next"), and def otherwise. It accepts only a
// path that starts with one "/" and has no scheme, host or user part, and no
// control character, space or backslash anywhere: browsers drop tabs and
// line breaks from a Location and read "\" as "/", so "/\t/evil.example" or
// "/\evil.example" would take them to another site.
func LocalPath(next, def string) string {
	if next == "" || len(next) > 500 || next[0] != '/' {
		return def
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return def
		}
	}
	if strings.HasPrefix(next, "//") {
		return def
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return def
	}
	return next
}
