// Package customer owns accounts (customers and staff), their passwords,
// saved addresses, and the tokens and sessions that authenticate requests.
//
// For the browser storefront: Service.Register and Service.Login return a
// Session; SetSessionCookie gives its secret to the browser and
// ClearSessionCookie takes it back (after Service.Logout), SetDeviceCookie
// gives it the known-device secret that keeps strangers' wrong passwords
// from delaying its sign-ins (see LoginFreeAttempts). Authenticate, around
// the whole handler tree, turns a bearer token or the session cookie into
// an auth.Principal, records the client address (ClientIPFrom) and the
// device cookie (DeviceFrom), and refuses cross-origin unsafe browser
// requests that carry no bearer token.
package customer

import (
	"database/sql"
	"embed"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the customer module's tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("customer", migrationFS, "migrations") }

// Account is a customer or a staff member.
type Account struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      auth.Role `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	// EmailVerified: the holder followed a link mailed to Email (at sign-up,
	// from "resend", by resetting the password or by confirming a change
	// of address). Unverified accounts can still shop.
	EmailVerified bool `json:"email_verified"`
}

// accountColumns are the columns scanAccount reads, in its order.
const accountColumns = "id, email, name, role, created_at, email_verified_at"

// scanAccount reads accountColumns, then extra, from r.
func scanAccount(r sqldb.Scanner, a *Account, extra ...any) error {
	var verified sql.NullTime
	if err := r.Scan(append([]any{&a.ID, &a.Email, &a.Name, &a.Role, &a.CreatedAt, &verified}, extra...)...); err != nil {
		return err
	}
	a.EmailVerified = verified.Valid
	return nil
}

// ValidatePassword checks the password rules: 8 to 128 characters, not all
// the same character, not the e-mail address.
func ValidatePassword(field, password, email string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < 8:
		return apperr.Field(field, "must be at least 8 characters")
	case n > 128:
		return apperr.Field(field, "must be at most 128 characters")
	case strings.Count(password, password[:1]) == len(password):
		return apperr.Field(field, "must not be one character repeated")
	case email != "" && strings.EqualFold(password, email):
		return apperr.Field(field, "must not be your e-mail address")
	case commonPasswords[strings.ToLower(password)]:
		return apperr.Field(field, "is one of the most used passwords, which are guessed first; choose another")
	}
	return nil
}

//go:embed common_passwords.txt
var commonPasswordList string

// commonPasswords holds the lower-cased passwords of common_passwords.txt.
// It is read once and never changed.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for line := range strings.Lines(commonPasswordList) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
}()
