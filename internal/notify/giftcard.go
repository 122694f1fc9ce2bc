package notify

import (
	"errors"
	"regexp"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
)

// TemplateGiftCard is the mail that gives a gift card's code to its
// recipient (giftcard.issued with a recipient: a card sold in an order, or
// issued by staff for someone). Its bodies hold the code, a bearer
// secret: staff do not see them (secretTemplate).
const TemplateGiftCard = "gift_card"

// giftCardTemplates are the templates of the gift card mails.
func giftCardTemplates() []string { return []string{TemplateGiftCard} }

// giftCardTopics are the gift card events that make mails.
func giftCardTopics() []string { return []string{giftcard.TopicIssued} }

// errNothingToSend marks an event that makes no mail by design (a card
// issued without a recipient): not an error to log.
var errNothingToSend = errors.New("notify: nothing to send")

// giftCardMail is what the gift card mail shows.
type giftCardMail struct {
	Amount      money.Money
	Code        string
	Expires     string // "" when the card does not expire
	OrderNumber string // "" when staff issued it
}

// giftCodeRE is the form of a gift card code (giftcard's four groups of
// four), so that nothing else goes into the mail as the code.
var giftCodeRE = regexp.MustCompile(`^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$`)

// giftCardMessage decodes and checks giftcard.issued.
func (s *Service) giftCardMessage(e outbox.Event) (message, error) {
	var p giftcard.Issued
	if err := e.Decode(&p); err != nil {
		return message{}, err
	}
	if p.RecipientEmail == "" {
		return message{}, errNothingToSend
	}
	var v apperr.Validator
	v.Check(validAddress(p.RecipientEmail), "recipient_email", "must be an e-mail address")
	v.Check(p.Amount.Validate() == nil && p.Amount.Amount > 0, "amount", "must be a positive amount in a valid currency")
	v.Check(giftCodeRE.MatchString(p.Code), "code", "must be a gift card code")
	if err := v.Err(); err != nil {
		return message{}, err
	}
	d := giftCardMail{Amount: p.Amount, Code: p.Code, OrderNumber: p.OrderNumber}
	if p.ExpiresAt != nil {
		d.Expires = p.ExpiresAt.UTC().Format("2 January 2006")
	}
	return message{template: TemplateGiftCard, to: p.RecipientEmail, data: d}, nil
}
