package customer

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Token lifetimes.
const (
	APITokenTTL = 30 * 24 * time.Hour
	SessionTTL  = 14 * 24 * time.Hour
	tokenPrefix = "mct_"
)

// Service manages accounts, addresses and authentication.
type Service struct {
	db        *sqldb.DB
	now       func() time.Time
	dummyHash string // checked against for unknown e-mails, to equalise timing

	store      store
	attempts   Attempts // sign-in attempt counts (the database unless WithAttempts)
	perAddress Rule     // sign-in and registration attempts per client address
	perAccount Rule     // sign-in attempts per account and source; password checks per session

	trustedProxies []netip.Prefix
	csrf           *http.CrossOriginProtection
}

// Option configures a Service.
type Option func(*Service)

// WithTrustedProxies makes ClientIP believe X-Forwarded-For when the
// connection comes from one of these networks (a load balancer or reverse
// proxy). Without it the client address is the connection's, always.
func WithTrustedProxies(prefixes ...netip.Prefix) Option {
	return func(s *Service) { s.trustedProxies = append(s.trustedProxies, prefixes...) }
}

// WithCSRFBypass exempts request patterns (http.ServeMux syntax, such as
// "POST /api/v1/payments/webhook") from the cross-origin check of
// Authenticate. Only for endpoints that authenticate by other means.
func WithCSRFBypass(patterns ...string) Option {
	return func(s *Service) {
		for _, p := range patterns {
			s.csrf.AddInsecureBypassPattern(p)
		}
	}
}

// WithClock makes the service read the time from now (for tests).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = func() time.Time { return now().UTC().Truncate(time.Microsecond) } }
}

// NewService returns a customer service on db. Without options it counts
// sign-in attempts in db (see LoginFreeAttempts for the rules), reads the
// time from the system clock and trusts no proxy.
func NewService(db *sqldb.DB, opts ...Option) *Service {
	dummy, _ := HashPassword(ids.Secret(12))
	s := &Service{
		db:         db,
		dummyHash:  dummy,
		now:        func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		store:      store{db: db},
		perAddress: Rule{Free: LoginAttemptsPerIP, Forget: LoginAttemptWindow},
		perAccount: Rule{Free: LoginFreeAttempts, Delays: backoff(LoginDelayFirst, LoginDelayMax), Forget: LoginCountForgotten, Sliding: true},
		csrf:       http.NewCrossOriginProtection(),
	}
	s.attempts = s.store
	for _, o := range opts {
		o(s)
	}
	return s
}

// tokenReader is where token checks read: they must see a revocation at
// once, so on PostgreSQL the primary (a replica may lag); SQLite's read
// pool sees every commit.
func (s *Service) tokenReader() sqldb.Querier {
	if s.db.Dialect() == sqldb.Postgres {
		return s.db
	}
	return s.db.Reader()
}

// newAccount validates the fields of a new account, collecting every
// problem, and returns the normalised e-mail and name.
func newAccount(email, password, name string, role auth.Role, nameRequired bool) (string, string, error) {
	var v apperr.Validator
	normEmail, err := address.NormalizeEmail("email", email)
	addFields(&v, err)
	if normEmail == "" {
		normEmail = strings.ToLower(strings.TrimSpace(email))
	}
	addFields(&v, ValidatePassword("password", password, normEmail))
	name = strings.TrimSpace(name)
	switch {
	case nameRequired && name == "":
		v.Add("name", "is required")
	case len([]rune(name)) > 100:
		v.Add("name", "must be at most 100 characters")
	case hasControl(name):
		v.Add("name", "must not contain control characters")
	}
	v.Check(role.Valid(), "role", "must be customer, staff or admin")
	return normEmail, name, v.Err()
}

// addFields copies the field errors of an *apperr.Error into v.
func addFields(v *apperr.Validator, err error) {
	var e *apperr.Error
	if errors.As(err, &e) {
		for _, f := range e.Fields {
			v.Add(f.Field, f.Message)
		}
	}
}

// hasControl reports whether s contains control characters (newlines
// included): none belong in a name or an address line.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x2028 || r == 0x2029 })
}

var errEmailTaken = &apperr.Error{Code: apperr.Conflict, Message: "an account with this e-mail already exists",
	Fields: []apperr.FieldError{{Field: "email", Message: "is already registered"}}}

// insertAccount adds an account inside tx and, for a customer, the
// customer.registered event. A taken e-mail is a Conflict on field "email".
func (s *Service) insertAccount(ctx context.Context, tx *sqldb.Tx, a Account, hash string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO customer_accounts (id, email, name, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Email, a.Name, hash, a.Role, a.CreatedAt, a.CreatedAt)
	if sqldb.IsUniqueViolation(err) {
		return errEmailTaken
	}
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	if a.Role == auth.RoleCustomer {
		if err := outbox.Write(ctx, tx, newRegistered(a)); err != nil {
			return fmt.Errorf("create account: %w", err)
		}
	}
	return nil
}

// CreateAccount adds an account of any role (the CLI and staff
// administration use it; customers sign up with Register). Invalid fields
// are an Invalid error naming each; a taken e-mail is a Conflict on field
// "email". A customer account writes the customer.registered event in the
// same transaction.
func (s *Service) CreateAccount(ctx context.Context, email, password, name string, role auth.Role) (Account, error) {
	email, name, err := newAccount(email, password, name, role, false)
	if err != nil {
		return Account{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Account{}, err
	}
	a := Account{ID: ids.New(), Email: email, Name: name, Role: role, CreatedAt: s.now()}
	if err := s.db.InTx(ctx, func(tx *sqldb.Tx) error { return s.insertAccount(ctx, tx, a, hash) }); err != nil {
		return Account{}, err
	}
	return a, nil
}

// Session is a signed-in browser session or API token: the secret goes to
// the client (as the session cookie or a bearer token); only its hash is
// stored. Device is the known-device secret for the client that signed in
// (SetDeviceCookie), after Login and Register only.
type Session struct {
	Token     string
	ExpiresAt time.Time
	Device    string
}

// Register creates a customer account and signs it in, returning the
// account and a new session (valid for SessionTTL; give it to a browser with
// SetSessionCookie and SetDeviceCookie). The account, its session, its
// known device and network, the customer.registered event and a link that
// verifies the address (customer.email_verification_requested, valid
// VerifyEmailTTL) commit together. Invalid fields are an Invalid error naming each (email,
// password, name); a taken e-mail is a Conflict on "email"; too many
// attempts from the client address (see WithClientIP, LoginAttemptsPerIP)
// are TooManyRequest with a retry delay (ratelimit.SetRetryAfter).
func (s *Service) Register(ctx context.Context, email, password, name string) (Account, Session, error) {
	email, name, err := newAccount(email, password, name, auth.RoleCustomer, true)
	if err != nil {
		return Account{}, Session{}, err
	}
	if ip := ClientIPFrom(ctx); ip != "" {
		wait, err := s.attempts.Take(ctx, "ip "+ipKey(ip), s.perAddress, s.now())
		if err != nil {
			return Account{}, Session{}, err
		}
		if wait > 0 {
			return Account{}, Session{}, ratelimit.Exceeded("too many sign-up attempts from your network; try again in "+aboutDuration(wait), wait)
		}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Account{}, Session{}, err
	}
	a := Account{ID: ids.New(), Email: email, Name: name, Role: auth.RoleCustomer, CreatedAt: s.now()}
	var sess Session
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.insertAccount(ctx, tx, a, hash); err != nil {
			return err
		}
		if err := s.sendVerification(ctx, tx, a); err != nil {
			return err
		}
		sess, err = s.issue(ctx, tx, a.ID, "session")
		if err != nil {
			return err
		}
		sess.Device, err = s.rememberSources(ctx, tx, a.ID, source{ip: ipKeyOf(ctx)})
		return err
	})
	if err != nil {
		return Account{}, Session{}, err
	}
	return a, sess, nil
}

// ipKeyOf returns the limiter key of the client address in ctx, or "".
func ipKeyOf(ctx context.Context) string {
	if ip := ClientIPFrom(ctx); ip != "" {
		return ipKey(ip)
	}
	return ""
}

// rememberSources records, after a successful sign-in from src, that the
// account knows the client's network and device, and returns the device
// secret for the client: the one it sent when the account already knew it,
// a new one otherwise.
func (s *Service) rememberSources(ctx context.Context, q sqldb.Querier, accountID string, src source) (string, error) {
	now := s.now()
	if src.ip != "" {
		if err := s.store.rememberSource(ctx, q, accountID, netSource(src.ip), now, now.Add(KnownNetworkTTL)); err != nil {
			return "", err
		}
	}
	secret := DeviceFrom(ctx)
	if src.device == "" {
		secret = devicePrefix + ids.Secret(32)
	}
	if err := s.store.rememberSource(ctx, q, accountID, "device:"+hashToken(secret), now, now.Add(KnownDeviceTTL)); err != nil {
		return "", err
	}
	return secret, nil
}

// ErrBadCredentials is returned for an unknown e-mail or a wrong password alike.
var ErrBadCredentials = apperr.New(apperr.Unauthorized, "e-mail or password is wrong")

// Authenticate checks an e-mail and password without any rate limit (Login
// adds the limits and a session). It spends the same time on an unknown
// e-mail as on a wrong password, so it does not reveal which accounts exist.
func (s *Service) Authenticate(ctx context.Context, email, password string) (Account, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var (
		a    Account
		hash string
	)
	err := scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountColumns+`, password_hash FROM customer_accounts WHERE email = ?`, email), &a, &hash)
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

// Login checks an e-mail and password and opens a session, returning the
// account and the session (valid for SessionTTL; give it to a browser with
// SetSessionCookie and SetDeviceCookie, or the token to an API client as a
// bearer token).
//
// Attempts are limited by client address (ClientIPFrom) and by account,
// counting attempts from the account's known devices (DeviceFrom) and
// networks apart from the rest (see LoginFreeAttempts). Errors:
// ErrBadCredentials (Unauthorized) for an unknown e-mail or a wrong
// password alike; TooManyRequest with a retry delay (for
// ratelimit.SetRetryAfter) when a limit holds, with the same message for an
// account that does not exist.
func (s *Service) Login(ctx context.Context, email, password string) (Account, Session, error) {
	return s.login(ctx, email, password, nil)
}

// login is Login with a hook that runs after the password is checked and
// before the session is opened: a failing hook leaves no session behind.
func (s *Service) login(ctx context.Context, email, password string, before func(Account) error) (Account, Session, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	now := s.now()
	src, err := s.sourceOf(ctx, email, now)
	if err != nil {
		return Account{}, Session{}, err
	}
	if err := s.takeAttempt(ctx, email, src, now); err != nil {
		return Account{}, Session{}, err
	}
	a, err := s.Authenticate(ctx, email, password)
	if err != nil {
		return Account{}, Session{}, err
	}
	if err := s.attempts.Reset(ctx, src.counter(email)); err != nil {
		return Account{}, Session{}, err
	}
	if before != nil {
		if err := before(a); err != nil {
			return Account{}, Session{}, err
		}
	}
	var sess Session
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if sess, err = s.issue(ctx, tx, a.ID, "session"); err != nil {
			return err
		}
		sess.Device, err = s.rememberSources(ctx, tx, a.ID, src)
		return err
	})
	if err != nil {
		return Account{}, Session{}, err
	}
	return a, sess, nil
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// IssueToken creates a token of the given kind ("api" or "session") and
// returns its secret; only its hash is stored.
func (s *Service) IssueToken(ctx context.Context, accountID, kind string) (string, time.Time, error) {
	sess, err := s.issue(ctx, s.db, accountID, kind)
	return sess.Token, sess.ExpiresAt, err
}

func (s *Service) issue(ctx context.Context, q sqldb.Querier, accountID, kind string) (Session, error) {
	ttl := APITokenTTL
	if kind == "session" {
		ttl = SessionTTL
	}
	secret := tokenPrefix + ids.Secret(32)
	now := s.now()
	exp := now.Add(ttl)
	if _, err := q.ExecContext(ctx, `INSERT INTO customer_tokens (id, account_id, token_hash, kind, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ids.New(), accountID, hashToken(secret), kind, now, exp); err != nil {
		return Session{}, fmt.Errorf("issue token: %w", err)
	}
	return Session{Token: secret, ExpiresAt: exp}, nil
}

var errBadToken = apperr.New(apperr.Unauthorized, "invalid token")

// ResolveToken returns the principal a token secret stands for; an unknown,
// expired or revoked token is Unauthorized. The caller sets ViaCookie.
func (s *Service) ResolveToken(ctx context.Context, secret string) (auth.Principal, error) {
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 100 {
		return auth.Principal{}, errBadToken
	}
	var (
		p       auth.Principal
		exp     time.Time
		revoked sql.NullTime
	)
	err := s.tokenReader().QueryRowContext(ctx, `SELECT t.id, t.expires_at, t.revoked_at, a.id, a.email, a.name, a.role
		FROM customer_tokens t JOIN customer_accounts a ON a.id = t.account_id WHERE t.token_hash = ?`, hashToken(secret)).
		Scan(&p.SessionID, &exp, &revoked, &p.AccountID, &p.Email, &p.Name, &p.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Principal{}, errBadToken
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("resolve token: %w", err)
	}
	if revoked.Valid || s.now().After(exp) {
		return auth.Principal{}, apperr.New(apperr.Unauthorized, "token expired or revoked")
	}
	return p, nil
}

// RevokeToken revokes the token or session with the given id (a
// Principal's SessionID). Revoking twice is not an error.
func (s *Service) RevokeToken(ctx context.Context, tokenID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE customer_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.now(), tokenID)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// Logout revokes the session or token of the signed-in principal in ctx;
// without one it does nothing.
func (s *Service) Logout(ctx context.Context) error {
	p, ok := auth.From(ctx)
	if !ok {
		return nil
	}
	return s.RevokeToken(ctx, p.SessionID)
}

// reauthenticate checks the current password of the signed-in p, wrong
// ones limited per session like sign-ins (LoginFreeAttempts, then waits):
// Invalid on "current_password" when wrong, TooManyRequest with a retry
// delay when limited.
func (s *Service) reauthenticate(ctx context.Context, p auth.Principal, password string) error {
	key := "reauth " + p.SessionID
	wait, err := s.attempts.Take(ctx, key, s.perAccount, s.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		return reauthLimited(wait)
	}
	if _, err := s.Authenticate(ctx, p.Email, password); err != nil {
		if errors.Is(err, ErrBadCredentials) {
			return apperr.Field("current_password", "is not your current password")
		}
		return err
	}
	return s.attempts.Reset(ctx, key)
}

// Account returns an account by id; NotFound when it does not exist.
func (s *Service) Account(ctx context.Context, id string) (Account, error) {
	return s.account(ctx, s.db, id)
}

func (s *Service) account(ctx context.Context, q sqldb.Querier, id string) (Account, error) {
	var a Account
	err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM customer_accounts WHERE id = ?`, id), &a)
	if errors.Is(err, sql.ErrNoRows) {
		return a, apperr.NotFoundf("account not found")
	}
	if err != nil {
		return a, fmt.Errorf("get account: %w", err)
	}
	return a, nil
}

// ProfilePatch changes the signed-in account; absent fields stay.
// Changing the password needs the current one.
type ProfilePatch struct {
	Name            *string `json:"name"`
	Password        *string `json:"password"`
	CurrentPassword *string `json:"current_password"`
}

// UpdateProfile applies patch to the account of principal p. A new password
// must follow the password rules and needs current_password (a wrong one is
// an Invalid error on "current_password"; the session may try
// LoginFreeAttempts times, then waits as sign-ins do); it revokes every
// other session and token of the account and retires its unused
// password-reset and change-of-address links.
func (s *Service) UpdateProfile(ctx context.Context, p auth.Principal, patch ProfilePatch) (Account, error) {
	var v apperr.Validator
	var name string
	if patch.Name != nil {
		name = strings.TrimSpace(*patch.Name)
		switch {
		case name == "":
			v.Add("name", "must not be empty")
		case len([]rune(name)) > 100:
			v.Add("name", "must be at most 100 characters")
		case hasControl(name):
			v.Add("name", "must not contain control characters")
		}
	}
	if patch.Password != nil {
		addFields(&v, ValidatePassword("password", *patch.Password, p.Email))
		switch {
		case patch.CurrentPassword == nil || *patch.CurrentPassword == "":
			v.Add("current_password", "is required to change the password")
		case len(*patch.CurrentPassword) > 1024:
			v.Add("current_password", "is too long")
		}
	}
	if err := v.Err(); err != nil {
		return Account{}, err
	}
	var hash string
	if patch.Password != nil {
		if err := s.reauthenticate(ctx, p, *patch.CurrentPassword); err != nil {
			return Account{}, err
		}
		var err error
		if hash, err = HashPassword(*patch.Password); err != nil {
			return Account{}, err
		}
	}
	var a Account
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		now := s.now()
		if patch.Name != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE customer_accounts SET name = ?, updated_at = ? WHERE id = ?`, name, now, p.AccountID); err != nil {
				return fmt.Errorf("update profile: %w", err)
			}
		}
		if hash != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE customer_accounts SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, now, p.AccountID); err != nil {
				return fmt.Errorf("change password: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE customer_tokens SET revoked_at = ? WHERE account_id = ? AND id <> ? AND revoked_at IS NULL`,
				now, p.AccountID, p.SessionID); err != nil {
				return fmt.Errorf("change password: revoke other sessions: %w", err)
			}
			if err := s.store.retireLinks(ctx, tx, p.AccountID, now, purposeReset, purposeChange); err != nil {
				return err
			}
		}
		var err error
		a, err = s.account(ctx, tx, p.AccountID)
		return err
	})
	if err != nil {
		return Account{}, err
	}
	return a, nil
}
