package payment

// Method is a way to pay that a provider offers at checkout.
type Method struct {
	ID   string // what checkout takes as payment_method, e.g. pm_card_visa
	Name string // for the shopper, e.g. "Visa test card"
	// Outcome says what a test method does ("succeeds", "is declined
	// (expired card)"); empty for a real one.
	Outcome  string
	Declines bool // a test method that is always declined
}

// MethodLister is a Provider that lists the payment methods it offers at
// checkout (a provider whose methods are entered on its own page lists
// none).
type MethodLister interface {
	Methods() []Method
}

// Methods returns the payment methods the configured provider offers at
// checkout, in the order to show them; none when it lists none.
func (s *Service) Methods() []Method {
	if l, ok := s.provider.(MethodLister); ok {
		return l.Methods()
	}
	return nil
}

// Methods implements MethodLister: the sandbox's test cards and what each
// does.
func (s *Sandbox) Methods() []Method {
	return []Method{
		{ID: "pm_card_visa", Name: "Visa test card", Outcome: "succeeds"},
		{ID: "pm_card_mastercard", Name: "Mastercard test card", Outcome: "succeeds"},
		{ID: "pm_card_chargeDeclined", Name: "Declined test card", Outcome: "is declined (generic decline)", Declines: true},
		{ID: "pm_card_insufficientFunds", Name: "Card with insufficient funds", Outcome: "is declined (insufficient funds)", Declines: true},
		{ID: "pm_card_expired", Name: "Expired test card", Outcome: "is declined (expired card)", Declines: true},
	}
}
