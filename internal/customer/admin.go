package customer

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// CustomerQuery selects a page of customer accounts, newest first.
type CustomerQuery struct {
	Q      string // words found in the e-mail or name (case-insensitive)
	Limit  int    // 1..100, default 20
	Cursor string // from the previous page's NextCursor
}

// AccountPage is one page of accounts.
type AccountPage struct {
	Items      []Account `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// CustomerDetail is what staff see of one customer.
type CustomerDetail struct {
	Account
	Addresses []Address `json:"addresses"`
}

func makeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func parseCursor(raw string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) == 0 || len(b) > 64 || strings.ContainsFunc(string(b), func(r rune) bool {
		return !(r == '-' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) {
		return "", apperr.Field("cursor", "is not a cursor returned by this list")
	}
	return string(b), nil
}

// likeEscape escapes LIKE wildcards so that s matches literally (with ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Customers returns a page of customer accounts (role customer), newest
// first. Every word of Q must appear in the e-mail or the name. A limit out
// of range, a Q over 200 characters or a foreign cursor is Invalid.
func (s *Service) Customers(ctx context.Context, cq CustomerQuery) (AccountPage, error) {
	var v apperr.Validator
	if cq.Limit == 0 {
		cq.Limit = 20
	}
	v.Check(cq.Limit >= 1 && cq.Limit <= 100, "limit", "must be an integer between 1 and 100")
	v.Check(len([]rune(cq.Q)) <= 200, "q", "must be at most 200 characters")
	if err := v.Err(); err != nil {
		return AccountPage{}, err
	}
	where := []string{"role = 'customer'"}
	var args []any
	for _, word := range strings.Fields(strings.ToLower(cq.Q)) {
		pat := "%" + likeEscape(word) + "%"
		where = append(where, `(email LIKE ? ESCAPE '\' OR LOWER(name) LIKE ? ESCAPE '\')`)
		args = append(args, pat, pat)
	}
	if cq.Cursor != "" {
		after, err := parseCursor(cq.Cursor)
		if err != nil {
			return AccountPage{}, err
		}
		where = append(where, "id < ?")
		args = append(args, after)
	}
	args = append(args, cq.Limit+1)
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT `+accountColumns+` FROM customer_accounts WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return AccountPage{}, fmt.Errorf("list customers: %w", err)
	}
	defer rows.Close()
	page := AccountPage{Items: []Account{}}
	for rows.Next() {
		var a Account
		if err := scanAccount(rows, &a); err != nil {
			return AccountPage{}, fmt.Errorf("list customers: %w", err)
		}
		page.Items = append(page.Items, a)
	}
	if err := rows.Err(); err != nil {
		return AccountPage{}, fmt.Errorf("list customers: %w", err)
	}
	if len(page.Items) > cq.Limit {
		page.Items = page.Items[:cq.Limit]
		next := makeCursor(page.Items[cq.Limit-1].ID)
		page.NextCursor = &next
	}
	return page, nil
}

// Customer returns a customer account with its addresses; NotFound when
// there is none (staff accounts included: see StaffMembers).
func (s *Service) Customer(ctx context.Context, id string) (CustomerDetail, error) {
	a, err := s.Account(ctx, id)
	if err != nil || a.Role != auth.RoleCustomer {
		if err == nil || apperr.Is(err, apperr.NotFound) {
			return CustomerDetail{}, apperr.NotFoundf("customer not found")
		}
		return CustomerDetail{}, err
	}
	addrs, err := s.Addresses(ctx, id)
	if err != nil {
		return CustomerDetail{}, err
	}
	return CustomerDetail{Account: a, Addresses: addrs}, nil
}

// StaffMembers returns every staff and admin account, by e-mail.
func (s *Service) StaffMembers(ctx context.Context) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountColumns+` FROM customer_accounts WHERE role IN ('staff', 'admin') ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	defer rows.Close()
	out := []Account{}
	for rows.Next() {
		var a Account
		if err := scanAccount(rows, &a); err != nil {
			return nil, fmt.Errorf("list staff: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	return out, nil
}

func validStaffRole(r auth.Role) bool { return r == auth.RoleStaff || r == auth.RoleAdmin }

// CreateStaff adds a staff or admin account. A role other than staff or
// admin is Invalid on "role"; otherwise as CreateAccount.
func (s *Service) CreateStaff(ctx context.Context, email, password, name string, role auth.Role) (Account, error) {
	if !validStaffRole(role) {
		return Account{}, apperr.Field("role", "must be staff or admin")
	}
	return s.CreateAccount(ctx, email, password, name, role)
}

// SetStaffRole changes the role of a staff account to staff or admin.
// NotFound when id is not a staff or admin account; Conflict when it would
// leave the shop without an admin (also when two admins demote each other at
// the same time).
func (s *Service) SetStaffRole(ctx context.Context, id string, role auth.Role) (Account, error) {
	if !validStaffRole(role) {
		return Account{}, apperr.Field("role", "must be staff or admin")
	}
	var a Account
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		// Lock every admin row first: on PostgreSQL, concurrent demotions
		// then run one after the other and the second sees the first.
		// (SQLite has one writer anyway.)
		if _, err := tx.ExecContext(ctx, `UPDATE customer_accounts SET updated_at = updated_at WHERE role = 'admin'`); err != nil {
			return fmt.Errorf("set staff role: %w", err)
		}
		var current auth.Role
		err := tx.QueryRowContext(ctx, `SELECT role FROM customer_accounts WHERE id = ?`, id).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !validStaffRole(current)) {
			return apperr.NotFoundf("staff member not found")
		}
		if err != nil {
			return fmt.Errorf("set staff role: %w", err)
		}
		if current == auth.RoleAdmin && role != auth.RoleAdmin {
			var others int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM customer_accounts WHERE role = 'admin' AND id <> ?`, id).Scan(&others); err != nil {
				return fmt.Errorf("set staff role: %w", err)
			}
			if others == 0 {
				return &apperr.Error{Code: apperr.Conflict, Message: "the shop needs at least one admin; make another account admin first",
					Fields: []apperr.FieldError{{Field: "role", Message: "would leave no admin"}}}
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE customer_accounts SET role = ?, updated_at = ? WHERE id = ?`, role, s.now(), id); err != nil {
			return fmt.Errorf("set staff role: %w", err)
		}
		a, err = s.account(ctx, tx, id)
		return err
	})
	if err != nil {
		return Account{}, err
	}
	return a, nil
}
