package admin

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
)

// zeroDecimal is "0.00" for EUR, "0" for JPY: it tells how many decimals a
// price typed in that currency has.
func zeroDecimal(currency string) string { return money.Zero(currency).Decimal() }

// parseAmount reads a price typed by a person ("19.9", "19.90", "1,299.00")
// into minor units with digits decimal places. Bad input is Invalid on field.
func parseAmount(field, s string, digits int) (int64, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	bad := apperr.Field(field, fmt.Sprintf("must be an amount such as %s", example(digits)))
	if s == "" {
		return 0, apperr.Field(field, "is required")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if len(frac) > digits || (hasDot && digits == 0) || len(whole) > 13 {
		return 0, bad
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, bad
			}
		}
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n > money.MaxAmount {
		return 0, bad
	}
	return n, nil
}

func example(digits int) string {
	if digits == 0 {
		return "1999"
	}
	return "19." + strings.Repeat("9", digits)
}

// parseCount reads a whole number in lo..hi; empty is Invalid "is required".
func parseCount(field, s string, lo, hi int64) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, apperr.Field(field, "is required")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, apperr.Field(field, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
	}
	return n, nil
}
