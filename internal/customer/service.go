package customer

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Token lifetimes.
const (
	APITokenTTL = 30 * 24 * time.Hour
	SessionTTL  = 14 * 24 * time.Hour
	tokenPrefix = "mct_"
)

// Service manages accounts and authentication.
type Service struct {
	db        *sqldb.DB
	now       func() time.Time
	dummyHash string // checked against for unknown e-mails, to equalise timing
}

// NewService returns a customer service on db.
func NewService(db *sqldb.DB) *Service {
	dummy, _ := HashPassword(ids.Secret(12))
	return &Service{db: db, dummyHash: dummy, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// CreateAccount adds an account. A taken e-mail is a Conflict on field "email".
func (s *Service) CreateAccount(ctx context.Context, email, password, name string, role auth.Role) (Account, error) {
	var v apperr.Validator
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return Account{}, err
	}
	if err := ValidatePassword("password", password, email); err != nil {
		return Account{}, err
	}
	name = strings.TrimSpace(name)
	v.Check(len(name) <= 100, "name", "must be at most 100 characters")
	v.Check(role.Valid(), "role", "must be customer, staff or admin")
	if err := v.Err(); err != nil {
		return Account{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Account{}, err
	}
	a := Account{ID: ids.New(), Email: email, Name: name, Role: role, CreatedAt: s.now()}
	_, err = s.db.ExecContext(ctx, `INSERT INTO customer_accounts (id, email, name, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Email, a.Name, hash, a.Role, a.CreatedAt, a.CreatedAt)
	if sqldb.IsUniqueViolation(err) {
		return Account{}, &apperr.Error{Code: apperr.Conflict, Message: "an account with this e-mail already exists",
			Fields: []apperr.FieldError{{Field: "email", Message: "is already registered"}}}
	}
	if err != nil {
		return Account{}, fmt.Errorf("create account: %w", err)
	}
	return a, nil
}

// ErrBadCredentials is returned for an unknown e-mail or a wrong password alike.
var ErrBadCredentials = apperr.New(apperr.Unauthorized, "e-mail or password is wrong")

// Authenticate checks an e-mail and password. It spends the same time on an
// unknown e-mail as on a wrong password, so it does not reveal which accounts exist.
func (s *Service) Authenticate(ctx context.Context, email, password string) (Account, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var (
		a    Account
		hash string
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, email, name, role, created_at, password_hash FROM customer_accounts WHERE email = ?`, email).
		Scan(&a.ID, &a.Email, &a.Name, &a.Role, &a.CreatedAt, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		CheckPassword(s.dummyHash, password)
		return Account{}, ErrBadCredentials
	}
	if err != nil {
		return Account{}, fmt.Errorf("authenticate: %w", err)
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		return Account{}, fmt.Errorf("authenticate %s: %w", a.ID, err)
	}
	if !ok {
		return Account{}, ErrBadCredentials
	}
	return a, nil
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// IssueToken creates a token of the given kind ("api" or "session") and
// returns its secret; only its hash is stored.
func (s *Service) IssueToken(ctx context.Context, accountID, kind string) (string, time.Time, error) {
	ttl := APITokenTTL
	if kind == "session" {
		ttl = SessionTTL
	}
	secret := tokenPrefix + ids.Secret(32)
	now := s.now()
	exp := now.Add(ttl)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO customer_tokens (id, account_id, token_hash, kind, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ids.New(), accountID, hashToken(secret), kind, now, exp); err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	return secret, exp, nil
}

// ResolveToken returns the principal a token secret stands for; an unknown,
// expired or revoked token is Unauthorized.
func (s *Service) ResolveToken(ctx context.Context, secret string) (auth.Principal, error) {
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 100 {
		return auth.Principal{}, apperr.New(apperr.Unauthorized, "invalid token")
	}
	var (
		p       auth.Principal
		exp     time.Time
		revoked sql.NullTime
		kind    string
	)
	err := s.db.Reader().QueryRowContext(ctx, `SELECT t.id, t.kind, t.expires_at, t.revoked_at, a.id, a.email, a.name, a.role
		FROM customer_tokens t JOIN customer_accounts a ON a.id = t.account_id WHERE t.token_hash = ?`, hashToken(secret)).
		Scan(&p.SessionID, &kind, &exp, &revoked, &p.AccountID, &p.Email, &p.Name, &p.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Principal{}, apperr.New(apperr.Unauthorized, "invalid token")
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("resolve token: %w", err)
	}
	if revoked.Valid || s.now().After(exp) {
		return auth.Principal{}, apperr.New(apperr.Unauthorized, "token expired or revoked")
	}
	p.ViaCookie = kind == "session"
	return p, nil
}

// RevokeToken revokes the token with the given id.
func (s *Service) RevokeToken(ctx context.Context, tokenID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE customer_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.now(), tokenID)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// Account returns an account by id; NotFound when it does not exist.
func (s *Service) Account(ctx context.Context, id string) (Account, error) {
	var a Account
	err := s.db.QueryRowContext(ctx, `SELECT id, email, name, role, created_at FROM customer_accounts WHERE id = ?`, id).
		Scan(&a.ID, &a.Email, &a.Name, &a.Role, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return a, apperr.NotFoundf("account not found")
	}
	if err != nil {
		return a, fmt.Errorf("get account: %w", err)
	}
	return a, nil
}
