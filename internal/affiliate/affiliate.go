// Package affiliate runs the affiliate programme. Customers apply and get a
// code; staff approve or reject them and set their commission. A visitor who
// follows a link with ?ref=CODE gets a referral cookie (last click wins)
// and the click is counted (once per client address and hour); a cart made
// while the cookie is valid, or one that names the code itself, is recorded
// as referred. When the cart becomes an order (order.placed carries the
// cart id), the affiliate earns a commission on the order's net amount,
// which is pending until the return window has passed, then approved, then
// paid when staff record a payout. Refunds and cancellations take it back in
// proportion (consumer.go), and nobody earns anything on their own orders.
//
// The module reads no other module's tables: it learns about orders from
// order.* events and about accounts from the principal of the request and
// customer.email_changed.
package affiliate

import (
	"crypto/rand"
	"embed"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the affiliate tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("affiliate", migrationFS, "migrations") }

// Affiliate statuses. An application is pending until staff approve or
// reject it; staff may reject an approved affiliate later (its code stops
// referring) or approve a rejected one.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusRejected = "rejected"
)

// Statuses lists the affiliate statuses (for filters).
var Statuses = []string{StatusPending, StatusApproved, StatusRejected}

// Commission states: pending (within the return window), approved (due
// for payment), paid (a payout included it), reversed (refunds or a
// cancellation took all of it back before it was paid).
const (
	CommissionPending  = "pending"
	CommissionApproved = "approved"
	CommissionPaid     = "paid"
	CommissionReversed = "reversed"
)

// Defaults of Options.
const (
	DefaultWindow       = 30 * 24 * time.Hour // how long a click refers the visitor's carts
	DefaultReturnWindow = 30 * 24 * time.Hour // how long a commission stays pending
	DefaultRate         = Rate(1000)          // 10 %
)

// Limits.
const (
	MaxNote      = 1000 // characters an applicant may write
	MaxReference = 200  // characters of a payout's reference
)

// CookieName is the referral cookie a ?ref= link sets: "CODE.UNIXTIME"
// (the time of the click).
const CookieName = "mercato_ref"

// Rate is a commission rate in basis points: 1000 is 10 %.
type Rate int64

// Percent returns the rate as a percentage (12.5 for 1250).
func (r Rate) Percent() float64 { return float64(r) / 100 }

// RateFromPercent converts a percentage between 0 and 100 with at most two
// decimals (12.5, 7.25) to a Rate; ok is false for anything else.
func RateFromPercent(p float64) (Rate, bool) {
	if math.IsNaN(p) || p < 0 || p > 100 {
		return 0, false
	}
	bp := math.Round(p * 100)
	if math.Abs(bp-p*100) > 1e-6 {
		return 0, false
	}
	return Rate(bp), true
}

// Of returns the commission on net at rate r, rounded half up, in minor
// units.
func (r Rate) Of(net int64) int64 { return mulDiv(net, int64(r), 10000) }

// mulDiv returns a*b/c rounded half up, for non-negative a and b and
// positive c, without overflowing.
func mulDiv(a, b, c int64) int64 {
	if a <= 0 || b <= 0 || c <= 0 {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	n.Add(n, big.NewInt(c/2))
	n.Quo(n, big.NewInt(c))
	if !n.IsInt64() {
		return math.MaxInt64
	}
	return n.Int64()
}

// NetAmount is what a commission is a percentage of: the order's subtotal
// minus its discounts, without shipping and without tax. When prices
// include tax, the tax share of the goods is taken out: the order's tax is
// split between the goods and the shipping in proportion to their amounts
// (one rate applies to both). It is never below zero.
func NetAmount(subtotal, discount, shipping, tax int64, taxIncluded bool) int64 {
	goods := max(subtotal-discount, 0)
	if !taxIncluded || tax <= 0 || goods == 0 {
		return goods
	}
	return max(goods-mulDiv(tax, goods, goods+max(shipping, 0)), 0)
}

// Affiliate is an application or an approved affiliate, with its figures.
// Money amounts are in the shop's currency.
type Affiliate struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Code      string `json:"code"`
	Status    string `json:"status"`
	// CommissionPercent is the rate applied to new orders: the affiliate's
	// own (DefaultCommission false) or the shop's default.
	CommissionPercent float64     `json:"commission_percent"`
	DefaultCommission bool        `json:"default_commission"`
	Note              string      `json:"note"`
	Link              string      `json:"link"` // the share link: the shop's address with ?ref=CODE
	Clicks            int64       `json:"clicks"`
	Orders            int64       `json:"orders"` // referred orders, whatever became of them
	Commissions       Commissions `json:"commissions"`
	// Payable is what a payout would pay now: the approved commissions
	// minus what refunds took back from commissions already paid.
	Payable   money.Money `json:"payable"`
	CreatedAt time.Time   `json:"created_at"`
	DecidedAt *time.Time  `json:"decided_at"`

	rate *Rate // the affiliate's own rate, nil for the default
}

// Bucket is the commissions in one state: how many and how much.
type Bucket struct {
	Count  int64       `json:"count"`
	Amount money.Money `json:"amount"`
}

// Commissions are an affiliate's commissions by state. Pending and
// approved amounts are what is left after reversals; paid is what payouts
// paid; reversed counts every commission refunds took something from, with
// the total taken back.
type Commissions struct {
	Pending  Bucket `json:"pending"`
	Approved Bucket `json:"approved"`
	Paid     Bucket `json:"paid"`
	Reversed Bucket `json:"reversed"`
}

// Commission is one line of the ledger as the affiliate sees it (no order
// number: the order is the customer's business).
type Commission struct {
	ID       string      `json:"id"`
	Status   string      `json:"status"`
	Net      money.Money `json:"net"`
	Percent  float64     `json:"commission_percent"`
	Amount   money.Money `json:"amount"` // earned, before reversals
	Reversed money.Money `json:"reversed"`
	PlacedAt time.Time   `json:"placed_at"`
	// ApproveAfter is when a pending commission becomes approved.
	ApproveAfter time.Time `json:"approve_after"`
}

// Dashboard is what an affiliate sees of its programme membership.
type Dashboard struct {
	Affiliate
	Recent []Commission `json:"recent_commissions"` // the latest 20, newest first
}

// Payout is a payment staff made to an affiliate: every approved
// commission at the time, minus the clawbacks of refunded paid ones.
type Payout struct {
	ID          string      `json:"id"`
	AffiliateID string      `json:"affiliate_id"`
	Gross       money.Money `json:"gross"`
	Clawback    money.Money `json:"clawback"`
	Amount      money.Money `json:"amount"`
	Commissions int64       `json:"commissions"`
	Reference   string      `json:"reference"`
	CreatedBy   string      `json:"created_by"`
	CreatedAt   time.Time   `json:"created_at"`
}

// Referral is who referred a visitor, and when the link was followed.
type Referral struct {
	AffiliateID string
	Code        string
	ClickedAt   time.Time
}

// codeAlphabet leaves out symbols that look alike (0 and O, 1 and I); 32
// symbols, so every random byte maps evenly.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newCode returns a random 8-symbol code (40 bits).
func newCode() string {
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = codeAlphabet[b[i]&31]
	}
	return string(b)
}

// NormalizeCode returns code in upper case without surrounding spaces, and
// whether it can be a code: 4 to 32 letters and digits.
func NormalizeCode(code string) (string, bool) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) < 4 || len(c) > 32 {
		return c, false
	}
	for _, r := range c {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return c, false
		}
	}
	return c, true
}

// FormatCookie is the referral cookie's value for a click on code at t.
func FormatCookie(code string, t time.Time) string {
	return code + "." + strconv.FormatInt(t.Unix(), 10)
}

// ParseCookie reads a referral cookie's value: the code and when it was
// clicked. ok is false for a malformed value.
func ParseCookie(v string) (code string, clicked time.Time, ok bool) {
	c, ts, found := strings.Cut(v, ".")
	if !found {
		return "", time.Time{}, false
	}
	code, valid := NormalizeCode(c)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if !valid || err != nil || sec <= 0 || sec > 1<<40 {
		return "", time.Time{}, false
	}
	return code, time.Unix(sec, 0).UTC(), true
}

// sameMailbox reports whether two e-mail addresses reach the same person:
// equal ignoring case and a "+tag" in the local part.
func sameMailbox(a, b string) bool {
	canon := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		local, domain, ok := strings.Cut(s, "@")
		if !ok {
			return s
		}
		local, _, _ = strings.Cut(local, "+")
		return local + "@" + domain
	}
	return a != "" && b != "" && canon(a) == canon(b)
}

// validCurrency guards the option.
func validCurrency(c string) error {
	if !money.ValidCurrency(c) {
		return fmt.Errorf("affiliate: currency %q: want an ISO 4217 code", c)
	}
	return nil
}
