package customer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// MaxAddresses is how many addresses one account may keep.
const MaxAddresses = 20

// Address is a saved postal address of an account.
type Address struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Line1      string    `json:"line1"`
	Line2      string    `json:"line2"`
	City       string    `json:"city"`
	PostalCode string    `json:"postal_code"`
	Country    string    `json:"country"` // ISO 3166-1 alpha-2, upper case
	Phone      string    `json:"phone"`
	IsDefault  bool      `json:"is_default"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// AddressInput is a new address.
type AddressInput struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
	Phone      string `json:"phone"`
	IsDefault  bool   `json:"is_default"`
}

// AddressPatch changes some fields of an address; absent fields stay.
// An empty line2 or phone clears it.
type AddressPatch struct {
	Name       *string `json:"name"`
	Line1      *string `json:"line1"`
	Line2      *string `json:"line2"`
	City       *string `json:"city"`
	PostalCode *string `json:"postal_code"`
	Country    *string `json:"country"`
	Phone      *string `json:"phone"`
	IsDefault  *bool   `json:"is_default"`
}

func (p AddressPatch) apply(a *Address) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&a.Name, p.Name)
	set(&a.Line1, p.Line1)
	set(&a.Line2, p.Line2)
	set(&a.City, p.City)
	set(&a.PostalCode, p.PostalCode)
	set(&a.Country, p.Country)
	set(&a.Phone, p.Phone)
	if p.IsDefault != nil {
		a.IsDefault = *p.IsDefault
	}
}

// normalize normalises the postal address (address.Address's rules) and
// the phone, and returns an Invalid error naming every bad field.
func (a *Address) normalize() error {
	pa := address.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, PostalCode: a.PostalCode, Country: a.Country}
	pa.Normalize()
	a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country = pa.Name, pa.Line1, pa.Line2, pa.City, pa.PostalCode, pa.Country
	var v apperr.Validator
	pa.Check(&v, "")
	a.Phone = strings.TrimSpace(a.Phone)
	switch {
	case len([]rune(a.Phone)) > 32:
		v.Add("phone", "must be at most 32 characters")
	case hasControl(a.Phone):
		v.Add("phone", "must not contain control characters")
	case a.Phone != "" && !validPhone(a.Phone):
		v.Add("phone", "must be a phone number such as +49 30 1234567")
	}
	return v.Err()
}

// validPhone accepts digits with an optional leading + and the usual
// separators, and at least 5 digits.
func validPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, strings.ContainsRune(" -./()", r):
		default:
			return false
		}
	}
	return digits >= 5 && digits <= 20
}

var errAddressNotFound = apperr.NotFoundf("address not found")

const addressColumns = `id, name, line1, line2, city, postal_code, country, phone, is_default, created_at, updated_at`

func scanAddress(row interface{ Scan(...any) error }) (Address, error) {
	var a Address
	err := row.Scan(&a.ID, &a.Name, &a.Line1, &a.Line2, &a.City, &a.PostalCode, &a.Country, &a.Phone, &a.IsDefault, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

// Addresses returns the account's addresses, the default first, then the
// newest first. An account without addresses gets an empty slice.
func (s *Service) Addresses(ctx context.Context, accountID string) ([]Address, error) {
	return s.addresses(ctx, s.db, accountID)
}

func (s *Service) addresses(ctx context.Context, q sqldb.Querier, accountID string) ([]Address, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+addressColumns+` FROM customer_addresses WHERE account_id = ?
		ORDER BY is_default DESC, created_at DESC, id DESC`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	defer rows.Close()
	out := []Address{}
	for rows.Next() {
		a, err := scanAddress(rows)
		if err != nil {
			return nil, fmt.Errorf("list addresses: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	return out, nil
}

// Address returns one address of the account. An address that does not
// exist or belongs to another account is NotFound alike.
func (s *Service) Address(ctx context.Context, accountID, id string) (Address, error) {
	return s.address(ctx, s.db, accountID, id)
}

func (s *Service) address(ctx context.Context, q sqldb.Querier, accountID, id string) (Address, error) {
	a, err := scanAddress(q.QueryRowContext(ctx, `SELECT `+addressColumns+` FROM customer_addresses WHERE id = ? AND account_id = ?`, id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return Address{}, errAddressNotFound
	}
	if err != nil {
		return Address{}, fmt.Errorf("get address: %w", err)
	}
	return a, nil
}

// errDefaultRace is what a concurrent change of the default address gets
// (the partial unique index refuses a second default).
var errDefaultRace = apperr.Conflictf("the default address was changed at the same time; try again")

// AddAddress saves a new address for the account. The first address, or
// one with is_default, becomes the default. Invalid fields are an Invalid
// error naming each; more than MaxAddresses is a Conflict.
func (s *Service) AddAddress(ctx context.Context, accountID string, in AddressInput) (Address, error) {
	a := Address{Name: in.Name, Line1: in.Line1, Line2: in.Line2, City: in.City, PostalCode: in.PostalCode,
		Country: in.Country, Phone: in.Phone, IsDefault: in.IsDefault}
	if err := a.normalize(); err != nil {
		return Address{}, err
	}
	a.ID = ids.New()
	a.CreatedAt = s.now()
	a.UpdatedAt = a.CreatedAt
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM customer_addresses WHERE account_id = ?`, accountID).Scan(&n); err != nil {
			return fmt.Errorf("add address: %w", err)
		}
		if n >= MaxAddresses {
			return apperr.Conflictf("an account can keep at most %d addresses; delete one first", MaxAddresses)
		}
		if n == 0 {
			a.IsDefault = true
		}
		if a.IsDefault {
			if err := clearDefault(ctx, tx, accountID, a.ID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO customer_addresses (`+addressColumns+`, account_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country, a.Phone, a.IsDefault, a.CreatedAt, a.UpdatedAt, accountID)
		if sqldb.IsUniqueViolation(err) {
			return errDefaultRace
		}
		if err != nil {
			return fmt.Errorf("add address: %w", err)
		}
		return nil
	})
	if err != nil {
		return Address{}, err
	}
	return a, nil
}

func clearDefault(ctx context.Context, tx *sqldb.Tx, accountID, except string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE customer_addresses SET is_default = FALSE WHERE account_id = ? AND id <> ? AND is_default`, accountID, except); err != nil {
		return fmt.Errorf("clear default address: %w", err)
	}
	return nil
}

// UpdateAddress changes some fields of one of the account's addresses.
// Setting is_default makes it the default (and no other); unsetting it
// leaves the account without a default. NotFound for an address of another
// account; Invalid naming each bad field.
func (s *Service) UpdateAddress(ctx context.Context, accountID, id string, patch AddressPatch) (Address, error) {
	var a Address
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if a, err = s.address(ctx, tx, accountID, id); err != nil {
			return err
		}
		patch.apply(&a)
		if err := a.normalize(); err != nil {
			return err
		}
		a.UpdatedAt = s.now()
		if a.IsDefault {
			if err := clearDefault(ctx, tx, accountID, a.ID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE customer_addresses SET name = ?, line1 = ?, line2 = ?, city = ?, postal_code = ?, country = ?, phone = ?,
			is_default = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
			a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country, a.Phone, a.IsDefault, a.UpdatedAt, a.ID, accountID)
		if sqldb.IsUniqueViolation(err) {
			return errDefaultRace
		}
		if err != nil {
			return fmt.Errorf("update address: %w", err)
		}
		return nil
	})
	if err != nil {
		return Address{}, err
	}
	return a, nil
}

// DeleteAddress deletes one of the account's addresses; NotFound for an
// address of another account. Deleting the default makes the newest
// remaining address the default.
func (s *Service) DeleteAddress(ctx context.Context, accountID, id string) error {
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		a, err := s.address(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM customer_addresses WHERE id = ? AND account_id = ?`, id, accountID); err != nil {
			return fmt.Errorf("delete address: %w", err)
		}
		if !a.IsDefault {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE customer_addresses SET is_default = TRUE WHERE id = (
			SELECT id FROM customer_addresses WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT 1)`, accountID)
		if sqldb.IsUniqueViolation(err) {
			return errDefaultRace
		}
		if err != nil {
			return fmt.Errorf("delete address: promote default: %w", err)
		}
		return nil
	})
}
