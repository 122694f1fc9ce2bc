// Package ids makes identifiers: UUIDv7 strings, which sort by creation time
// and so keep B-tree inserts local, and random URL-safe secrets.
package ids

import (
	"crypto/rand"
	"encoding/base64"

	"github.com/google/uuid"
)

// New returns a fresh UUIDv7 as a string.
func New() string { return uuid.Must(uuid.NewV7()).String() }

// Valid reports whether s is a UUID in canonical form; use it to refuse
// malformed ids before they reach the database.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// Secret returns n random bytes encoded URL-safe (for tokens and keys).
func Secret(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails on supported platforms (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Plausible reports whether id can be an id Mercato made or stores (UUIDs,
// cart and payment ids, keys of other modules): 1 to 64 ASCII letters,
// digits, '-' and '_'. An id that is not plausible is not found, without
// asking the database, which would refuse some bytes (PostgreSQL and NUL)
// with an error.
func Plausible(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
