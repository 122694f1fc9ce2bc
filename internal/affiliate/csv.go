package affiliate

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"strings"
	"time"
)

// csvHeader names the columns of the export.
var csvHeader = []string{"id", "name", "email", "code", "status", "commission_percent", "clicks", "orders",
	"pending", "approved", "paid", "reversed", "payable", "currency", "applied_at", "decided_at"}

// SafeCell keeps a text cell from being run as a formula by a spreadsheet:
// one that starts with = + - @ (or a tab or carriage return, which some
// spreadsheets skip before looking) gets a leading apostrophe, which
// spreadsheets show as text.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ExportCSV returns the affiliates matching q's status and words (see
// Export) as CSV: a header row, then one row per affiliate, newest first,
// amounts in the shop's currency as decimals. Text an affiliate or
// customer typed (name, e-mail) goes through SafeCell; the other cells are
// numbers, codes and times the shop wrote. A bad filter is Invalid, as for
// List, and nothing is written.
func (s *Service) ExportCSV(ctx context.Context, q ListQuery) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(csvHeader); err != nil {
		return nil, err
	}
	err := s.Export(ctx, q, func(a Affiliate) error {
		decided := ""
		if a.DecidedAt != nil {
			decided = a.DecidedAt.Format(time.RFC3339)
		}
		c := a.Commissions
		return w.Write([]string{a.ID, SafeCell(a.Name), SafeCell(a.Email), SafeCell(a.Code), a.Status,
			strconv.FormatFloat(a.CommissionPercent, 'f', -1, 64), strconv.FormatInt(a.Clicks, 10), strconv.FormatInt(a.Orders, 10),
			c.Pending.Amount.Decimal(), c.Approved.Amount.Decimal(), c.Paid.Amount.Decimal(), c.Reversed.Amount.Decimal(),
			a.Payable.Decimal(), a.Payable.Currency, a.CreatedAt.Format(time.RFC3339), decided})
	})
	if err != nil {
		return nil, err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
