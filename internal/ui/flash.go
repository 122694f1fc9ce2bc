package ui

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Flash is a one-time message for the next page, typically the page a
// successful form redirects to (post/redirect/get).
type Flash struct {
	Error bool // a problem to fix rather than a confirmation
	Text  string
}

// MaxFlash is the longest flash text in bytes; a longer one is cut (at a
// character boundary) when it is set.
const MaxFlash = 600

// Flashes carries Flash messages to the next page in one cookie, set with
// SetCookie (HttpOnly, SameSite=Lax, Secure over HTTPS). The value is the
// base64url (unpadded) of "ok:" or "err:" followed by the text. The cookie
// is not signed: it is shown only to the browser that holds it, and pages
// escape it like any other text.
type Flashes struct {
	Cookie string        // the cookie's name
	Path   string        // the part of the site whose pages show it
	MaxAge time.Duration // how long a message waits to be shown
}

// Set keeps f for the next page of f's path, replacing any unread message.
func (fs Flashes) Set(w http.ResponseWriter, r *http.Request, f Flash) {
	kind := "ok:"
	if f.Error {
		kind = "err:"
	}
	text := f.Text
	if len(text) > MaxFlash {
		text = text[:MaxFlash]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
	}
	SetCookie(w, r, fs.Cookie, base64.RawURLEncoding.EncodeToString([]byte(kind+text)), fs.Path, fs.MaxAge)
}

// Take returns the message waiting for this page and deletes its cookie.
// It returns nil when there is none, and when the cookie was not written by
// Set (bad encoding, unknown kind, too long, not UTF-8); such a cookie is
// deleted too.
func (fs Flashes) Take(w http.ResponseWriter, r *http.Request) *Flash {
	c, err := r.Cookie(fs.Cookie)
	if err != nil || c.Value == "" {
		return nil
	}
	SetCookie(w, r, fs.Cookie, "", fs.Path, -1)
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || !utf8.Valid(b) {
		return nil
	}
	var f Flash
	text, ok := strings.CutPrefix(string(b), "ok:")
	if !ok {
		if text, ok = strings.CutPrefix(string(b), "err:"); !ok {
			return nil
		}
		f.Error = true
	}
	if len(text) > MaxFlash {
		return nil
	}
	f.Text = text
	return &f
}
