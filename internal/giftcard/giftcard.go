// Package giftcard owns gift cards: cards issued by staff or sold as a
// product, their balance in the shop currency, an optional expiry, and a
// ledger of every movement of money on them.
//
// The rules it exists for:
//
//   - A card is never spent twice. Money leaves a card in two steps, like
//     stock: a hold (before the payment) moves it from available to held
//     with one conditional UPDATE (… WHERE balance - held >= ?), which is
//     atomic on SQLite and PostgreSQL across any number of instances; the
//     capture (in the order's transaction) takes it off the balance; a
//     release gives it back. A card's available balance never goes below
//     zero.
//   - The balance is the ledger's sum. Every change of balance or held
//     writes a ledger entry with the change and the result, in the same
//     transaction (Service.Verify checks it).
//   - The code is a bearer secret: 16 characters from an alphabet without
//     0/O/1/I (80 random bits), shown once (to staff at issue, or in the
//     recipient's e-mail); only its SHA-256 and its last 4 characters are
//     stored. Look-ups by code are limited per client address (shared by
//     every instance through the database).
//
// The checkout and the order use it through the methods keyed by a
// reference (the order id): Reserve or Hold before the payment, Capture in
// the order's transaction, Release when the attempt fails, ReleaseExpired
// from a periodic job, and Credit when an order is refunded (a refund goes
// back to the gift cards first, up to what they paid).
package giftcard

import (
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the gift card tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("giftcard", migrationFS, "migrations") }

// Limits and defaults.
const (
	// MaxAmount bounds a card's value and any single movement (1,000,000.00
	// in a two-decimal currency).
	MaxAmount = 100_000_000
	// MaxPerCart is how many cards one cart may carry.
	MaxPerCart = 5
	// DefaultHoldTTL is how long a hold lasts unless captured or released
	// first: far longer than a checkout attempt (whose crash the checkout's
	// reconciler cleans up with Release), so only forgotten holds expire.
	DefaultHoldTTL = 30 * time.Minute
	// DefaultSKUPrefix marks catalog products sold as gift cards: an order
	// line whose SKU starts with it issues a card per unit when paid.
	DefaultSKUPrefix = "GIFTCARD-"
	// LookupsPerAddress look-ups of a code (balance checks and attempts to
	// apply one to a cart) are allowed per client address (IPv6 by /64)
	// per LookupWindow; then 429 until the window ends.
	LookupsPerAddress = 20
	LookupWindow      = 15 * time.Minute
)

// Card statuses as stored. Status (in Card) adds the derived expired and
// spent.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
	StatusExpired  = "expired" // derived: past expires_at
	StatusSpent    = "spent"   // derived: nothing left, nothing held
)

// Ledger entry kinds.
const (
	KindIssue      = "issue"      // the card's value, at issue
	KindHold       = "hold"       // money set aside for a checkout (held +)
	KindCapture    = "capture"    // a hold taken by its order (balance -, held -)
	KindRelease    = "release"    // a hold given back (held -): failed or expired checkout
	KindCredit     = "credit"     // a refund of an order the card paid (balance +)
	KindAdjustment = "adjustment" // staff changed the balance
)

// Hold statuses. A reference whose holds were given back (released or
// expired) cannot capture until a new Reserve (or Hold) replaces them: the
// money may have been spent meanwhile.
const (
	HoldActive   = "active"
	HoldCaptured = "captured"
	HoldReleased = "released" // given back by Release: the checkout attempt ended without an order
	HoldExpired  = "expired"  // given back by ReleaseExpired
	HoldReplaced = "replaced" // superseded by a later Reserve or Hold of its reference
)

// Card is a gift card as staff see it. The code itself is never stored.
type Card struct {
	ID             string      `json:"id"`
	Last4          string      `json:"last4"`
	Status         string      `json:"status"`
	Initial        money.Money `json:"initial_amount"`
	Balance        money.Money `json:"balance"`   // ledger sum: what the card holds, held money included
	Held           money.Money `json:"held"`      // set aside for checkouts in progress
	Available      money.Money `json:"available"` // balance - held: what it can still pay
	ExpiresAt      *time.Time  `json:"expires_at"`
	RecipientEmail string      `json:"recipient_email"`
	Note           string      `json:"note"`
	OrderID        string      `json:"order_id"` // the order that sold it ("" when issued by staff)
	IssuedBy       string      `json:"issued_by"`
	CreatedAt      time.Time   `json:"created_at"`
	DisabledAt     *time.Time  `json:"disabled_at"`
	DisabledReason string      `json:"disabled_reason"`

	stored string // status column: active or disabled
}

// derive fills the fields computed from the stored ones at now.
func (c *Card) derive(now time.Time) {
	c.Available = money.Money{Amount: c.Balance.Amount - c.Held.Amount, Currency: c.Balance.Currency}
	switch {
	case c.stored == StatusDisabled:
		c.Status = StatusDisabled
	case c.ExpiresAt != nil && !c.ExpiresAt.After(now):
		c.Status = StatusExpired
	case c.Balance.Amount == 0 && c.Held.Amount == 0:
		c.Status = StatusSpent
	default:
		c.Status = StatusActive
	}
}

// usable reports whether the card can pay in currency at now.
func (c Card) usable(currency string, now time.Time) bool {
	c.derive(now)
	return c.Status == StatusActive && c.Balance.Currency == currency
}

// Entry is one ledger entry: a change of the balance and of the held
// amount, and both after it.
type Entry struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"`
	Amount       int64     `json:"amount"` // change of the balance (minor units)
	HeldChange   int64     `json:"held_change"`
	BalanceAfter int64     `json:"balance_after"`
	HeldAfter    int64     `json:"held_after"`
	Reference    string    `json:"reference"` // the order (checkout) it concerns, if any
	Actor        string    `json:"actor"`
	Note         string    `json:"note"`
	CreatedAt    time.Time `json:"created_at"`
}

// CardDetail is a card with its ledger, oldest entry first.
type CardDetail struct {
	Card
	Ledger []Entry `json:"ledger"`
}

// NewCard is a card just issued, with its code: the only time the code is
// shown.
type NewCard struct {
	Card
	Code string `json:"code"`
}

// Use is what one card applied to a cart covers of the cart's total. The
// checkout passes the uses of its quote to Reserve.
type Use struct {
	CardID    string      `json:"-"`
	CodeLast4 string      `json:"code_last4"`
	Amount    money.Money `json:"amount"`  // what the card pays of this cart
	Balance   money.Money `json:"balance"` // what the card can pay at all (its available balance)
}

// Redemption is what one card paid (or holds) for a reference.
type Redemption struct {
	CardID    string      `json:"card_id"`
	CodeLast4 string      `json:"code_last4"`
	Amount    money.Money `json:"amount"`
	Credited  money.Money `json:"credited"` // given back by refunds
	Status    string      `json:"status"`   // a hold status
}

// Balance is what the public balance check tells about a card: its
// available balance (in its currency) and its expiry, nothing else.
type Balance struct {
	Balance   money.Money `json:"balance"`
	ExpiresAt *time.Time  `json:"expires_at"`
}

// codeAlphabet has no 0, O, 1 or I, so a code read aloud or off paper is
// typed right: 32 letters and digits, 5 bits each.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// codeLen is the length of a code without its dashes: 80 random bits.
const codeLen = 16

// newCode returns a random code in groups of four: "ABCD-EFGH-JKLM-NPQR".
func newCode() string {
	var b [codeLen]byte
	rand.Read(b[:]) // never fails (Go 1.24+)
	var sb strings.Builder
	for i, x := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(codeAlphabet[x&31]) // 256 is a multiple of 32: no bias
	}
	return sb.String()
}

// normalize turns a code as typed ("abcd efgh-jkLM npqr") into its stored
// form: upper case, without spaces or dashes. ok is false when it cannot
// be a code (wrong length or characters).
func normalize(code string) (string, bool) {
	if len(code) > 64 {
		return "", false
	}
	var sb strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == ' ' || r == '-':
		case r < 128 && strings.IndexByte(codeAlphabet, byte(r)) >= 0:
			sb.WriteRune(r)
		default:
			return "", false
		}
	}
	s := sb.String()
	return s, len(s) == codeLen
}

// hashCode is the stored form of a normalized code. The code has 80 random
// bits, so a plain SHA-256 cannot be reversed by trying codes.
func hashCode(normalized string) string {
	sum := sha256.Sum256([]byte("giftcard:" + normalized))
	return hex.EncodeToString(sum[:])
}

// last4 is the part of a normalized code shown to tell cards apart.
func last4(normalized string) string { return normalized[len(normalized)-4:] }
