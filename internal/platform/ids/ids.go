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
