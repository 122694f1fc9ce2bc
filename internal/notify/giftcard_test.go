package notify_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestGiftCardEmails: a card issued with a recipient makes one mail to the
// recipient with the code (golden files; a sold card names its order),
// staff reading it through the service see no code, and a card without a
// recipient, or with a payload that is not a code, makes no mail.
func TestGiftCardEmails(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		p := newPipeline(t, db)
		emit(t, db,
			event{"giftcard.issued", "g-1", map[string]any{"card_id": "g-1", "last4": "NPQR", "amount": eur(5000),
				"expires_at": "2027-12-31T23:00:00Z", "recipient_email": "ada@example.com", "code": "ABCD-EFGH-JKLM-NPQR", "order_id": "o-1", "order_number": "1042"}},
			event{"giftcard.issued", "g-2", map[string]any{"card_id": "g-2", "last4": "WXYZ", "amount": eur(2500),
				"expires_at": nil, "recipient_email": "", "code": "", "order_id": "", "order_number": ""}},
			event{"giftcard.issued", "g-3", map[string]any{"card_id": "g-3", "last4": "WXYZ", "amount": eur(2500),
				"expires_at": nil, "recipient_email": "bob@example.com", "code": "<b>not a code</b>", "order_id": "", "order_number": ""}},
		)
		p.flush(t)
		stored := storedEmails(t, db)
		if len(stored) != 1 {
			t.Fatalf("stored %d e-mails, want 1 (log: %s)", len(stored), p.log)
		}
		if got := strings.Count(p.log.String(), "event dropped"); got != 1 {
			t.Errorf("%d events dropped, want 1 (the bad code; a card without recipient is not an error): %s", got, p.log)
		}
		e, ok := stored[notify.TemplateGiftCard]
		if !ok {
			t.Fatalf("no %s e-mail: %v", notify.TemplateGiftCard, stored)
		}
		golden(t, "gift_card.txt", fmt.Sprintf("To: %s\nSubject: %s\n\n%s", e.To, e.Subject, e.Text))
		golden(t, "gift_card.html", e.HTML)
		if e.To != "ada@example.com" || !strings.Contains(e.Text, "ABCD-EFGH-JKLM-NPQR") || !strings.Contains(e.HTML, "ABCD-EFGH-JKLM-NPQR") {
			t.Errorf("mail to %q without the code: %s", e.To, e.Text)
		}
		for _, m := range allEmails(t, p.svc) {
			if strings.Contains(m.Text+m.HTML, "ABCD-EFGH") || !strings.Contains(m.Text, "not shown to staff") {
				t.Errorf("staff see the gift card mail's body: %s", m.Text)
			}
		}
	})
}
