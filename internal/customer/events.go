package customer

import (
	"time"

	"github.com/mercato-shop/mercato/internal/platform/outbox"
)

// Topics of the events the customer module publishes (docs/EVENTS.md), each
// written in the transaction of its change.
const (
	// TopicRegistered: a customer account was created. Staff accounts
	// publish nothing.
	TopicRegistered = "customer.registered"
	// TopicPasswordResetRequested: someone asked for a password reset of
	// an existing account (customer or staff); the payload holds the
	// link's secret for the mail to the account's address.
	TopicPasswordResetRequested = "customer.password_reset_requested"
	// TopicEmailVerificationRequested: a customer signed up or asked for a
	// new verification link; the payload holds the link's secret.
	TopicEmailVerificationRequested = "customer.email_verification_requested"
	// TopicEmailChangeRequested: a signed-in account asked to change its
	// address; the payload holds the link's secret for the mail to the
	// new address.
	TopicEmailChangeRequested = "customer.email_change_requested"
	// TopicEmailChanged: an account's address changed (the link was
	// followed); the old address gets a notice.
	TopicEmailChanged = "customer.email_changed"
)

// Events returns a zero value of every event the customer module publishes.
func Events() []outbox.Message {
	return []outbox.Message{Registered{}, PasswordResetRequested{}, EmailVerificationRequested{}, EmailChangeRequested{}, EmailChanged{}}
}

// Registered is the payload of customer.registered.
type Registered struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
}

func (Registered) EventTopic() string       { return TopicRegistered }
func (e Registered) EventAggregate() string { return e.CustomerID }

func newRegistered(a Account) Registered {
	return Registered{CustomerID: a.ID, Email: a.Email, Name: a.Name}
}

// PasswordResetRequested is the payload of
// customer.password_reset_requested. Token is the secret of a single-use
// link valid until ExpiresAt: whoever holds it may set the account's
// password, so it goes only into the mail to Email.
type PasswordResetRequested struct {
	AccountID string    `json:"account_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (PasswordResetRequested) EventTopic() string       { return TopicPasswordResetRequested }
func (e PasswordResetRequested) EventAggregate() string { return e.AccountID }

// EmailVerificationRequested is the payload of
// customer.email_verification_requested: Token confirms Email for the
// account until ExpiresAt, once.
type EmailVerificationRequested struct {
	AccountID string    `json:"account_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (EmailVerificationRequested) EventTopic() string       { return TopicEmailVerificationRequested }
func (e EmailVerificationRequested) EventAggregate() string { return e.AccountID }

// EmailChangeRequested is the payload of customer.email_change_requested:
// Token, mailed to NewEmail, changes the account's address from Email to
// NewEmail until ExpiresAt, once.
type EmailChangeRequested struct {
	AccountID string    `json:"account_id"`
	Email     string    `json:"email"`
	NewEmail  string    `json:"new_email"`
	Name      string    `json:"name"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (EmailChangeRequested) EventTopic() string       { return TopicEmailChangeRequested }
func (e EmailChangeRequested) EventAggregate() string { return e.AccountID }

// EmailChanged is the payload of customer.email_changed.
type EmailChanged struct {
	AccountID string `json:"account_id"`
	OldEmail  string `json:"old_email"`
	NewEmail  string `json:"new_email"`
	Name      string `json:"name"`
}

func (EmailChanged) EventTopic() string       { return TopicEmailChanged }
func (e EmailChanged) EventAggregate() string { return e.AccountID }
