// Package money is Mercato's money type: an integer amount in minor units
// (cents) with an ISO 4217 currency code. Amounts are never floats.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// MaxAmount bounds any single amount (one trillion minor units) so sums of
// many lines cannot overflow int64.
const MaxAmount = 1_000_000_000_000

// Money is an amount in minor units of Currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// ErrCurrencyMismatch is returned when adding amounts of different currencies.
var ErrCurrencyMismatch = errors.New("currency mismatch")

// New returns a Money after validating currency and bounds.
func New(amount int64, currency string) (Money, error) {
	m := Money{Amount: amount, Currency: currency}
	return m, m.Validate()
}

// Validate checks the currency code and the amount's bounds.
func (m Money) Validate() error {
	if !ValidCurrency(m.Currency) {
		return fmt.Errorf("currency %q: must be a 3-letter ISO 4217 code", m.Currency)
	}
	if m.Amount < -MaxAmount || m.Amount > MaxAmount {
		return fmt.Errorf("amount %d: out of range", m.Amount)
	}
	return nil
}

// ValidCurrency reports whether c looks like an ISO 4217 code (three upper-case letters).
func ValidCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// Zero returns zero in the given currency.
func Zero(currency string) Money { return Money{Currency: currency} }

// Add returns m+o; both must share a currency.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("add %s to %s: %w", o.Currency, m.Currency, ErrCurrencyMismatch)
	}
	return Money{Amount: m.Amount + o.Amount, Currency: m.Currency}, nil
}

// Sub returns m-o; both must share a currency.
func (m Money) Sub(o Money) (Money, error) {
	return m.Add(Money{Amount: -o.Amount, Currency: o.Currency})
}

// Mul returns m multiplied by a quantity.
func (m Money) Mul(q int64) Money { return Money{Amount: m.Amount * q, Currency: m.Currency} }

// Percent returns m * bp / 10000 (basis points), rounded half away from zero.
func (m Money) Percent(bp int64) Money {
	v := float64(m.Amount) * float64(bp) / 10000
	return Money{Amount: int64(math.Round(v)), Currency: m.Currency}
}

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.Amount == 0 }

// Exponent returns how many minor-unit digits a currency has: the power of
// ten between its minor units (what Money.Amount counts) and its major
// unit. 2 for most (EUR, USD, IDR, PHP), 0 for JPY, KRW, VND and the
// others listed here, 3 for BHD, KWD, OMR, JOD, TND.
func Exponent(currency string) int { return exponent(currency) }

// exponent returns the number of minor-unit digits of a currency.
func exponent(c string) int {
	switch c {
	case "JPY", "KRW", "CLP", "ISK", "HUF", "VND":
		return 0
	case "BHD", "KWD", "OMR", "JOD", "TND":
		return 3
	}
	return 2
}

// String formats as "12.34 EUR".
func (m Money) String() string { return m.Decimal() + " " + m.Currency }

// Decimal formats the amount with the currency's decimal places, e.g. "12.34".
func (m Money) Decimal() string {
	exp := exponent(m.Currency)
	neg := m.Amount < 0
	a := m.Amount
	if neg {
		a = -a
	}
	s := strconv.FormatInt(a, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Format formats for people: "€12.34", "$5.00", "12.34 CHF".
func (m Money) Format() string {
	switch m.Currency {
	case "EUR":
		return "€" + m.Decimal()
	case "USD":
		return "$" + m.Decimal()
	case "GBP":
		return "£" + m.Decimal()
	}
	return m.String()
}

// Allocate splits amount (minor units, not negative) into parts in
// proportion to weights (not negative) by the largest-remainder method: each
// part is its share rounded down, and the units left over go one each to
// the parts with the largest remainders (the earlier part on a tie). The
// parts always sum to amount exactly. When every weight is zero the amount
// is split evenly. It returns nil for no weights; a negative amount or
// weight panics (a caller's bug).
func Allocate(amount int64, weights []int64) []int64 {
	if len(weights) == 0 {
		return nil
	}
	if amount < 0 {
		panic("money.Allocate: negative amount")
	}
	w := weights
	var total big.Int
	for _, x := range w {
		if x < 0 {
			panic("money.Allocate: negative weight")
		}
		total.Add(&total, big.NewInt(x))
	}
	if total.Sign() == 0 {
		w = make([]int64, len(weights))
		for i := range w {
			w[i] = 1
		}
		total.SetInt64(int64(len(w)))
	}
	parts := make([]int64, len(w))
	rems := make([]big.Int, len(w))
	left := amount
	a := big.NewInt(amount)
	var q big.Int
	for i, x := range w {
		q.Mul(a, big.NewInt(x))
		q.QuoRem(&q, &total, &rems[i])
		parts[i] = q.Int64()
		left -= parts[i]
	}
	order := make([]int, len(w))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return rems[order[i]].Cmp(&rems[order[j]]) > 0 })
	for k := 0; left > 0; k++ {
		parts[order[k%len(order)]]++
		left--
	}
	return parts
}

// PercentOf returns pct percent (0..100) of amount minor units, rounded
// half up: 10 % of 1005 is 101 (100.5 rounds up), of 1004 is 100.
func PercentOf(amount, pct int64) int64 {
	return (amount*pct + 50) / 100
}
