package payment

// Method is a way to pay that a provider offers at checkout.
type Method struct {
	ID   string `json:"id"`   // what checkout takes as payment_method, e.g. pm_card_visa (see Kind)
	Name string `json:"name"` // for the shopper, e.g. "Visa test card"
	// Provider is the name of the provider that offers it (set by
	// Service.Methods).
	Provider string `json:"provider"`
	// Kind says how the shopper pays with it: KindCardElement, KindRedirect
	// or KindTest. Service.Methods makes an empty one KindRedirect.
	Kind string `json:"kind"`
	// TestMode: the provider runs with test keys (or is the sandbox): no
	// real money moves.
	TestMode bool `json:"test_mode"`
	// Outcome says what a test method does ("succeeds", "is declined
	// (expired card)"); empty for a real one.
	Outcome  string `json:"outcome,omitempty"`
	Declines bool   `json:"-"` // a test method that is always declined
}

// Kinds of payment methods.
const (
	// KindCardElement: the card is entered in the provider's own fields in
	// the shopper's browser (Stripe Elements, with the provider's
	// publishable key); they make a payment method id (pm_…), which the
	// checkout takes as payment_method instead of the listed ID. The card
	// number never reaches Mercato.
	KindCardElement = "card_element"
	// KindRedirect: the checkout takes the listed ID as it is, and the
	// shopper pays on the provider's page (the checkout answers with a
	// redirect_to_url next action) or the provider decides alone.
	KindRedirect = "redirect"
	// KindTest: a test method of the sandbox; the checkout takes the listed
	// ID as it is, and it does what Outcome says.
	KindTest = "test"
)

// Next action types (NextAction.Type), named as Stripe names them.
const (
	NextActionStripeSDK = "use_stripe_sdk"  // confirm with Stripe.js and the client secret (3-D Secure)
	NextActionRedirect  = "redirect_to_url" // send the shopper to the provider's page
)

// MethodLister is a Provider that lists the payment methods it offers at
// checkout (a provider whose methods are entered on its own page lists
// none).
type MethodLister interface {
	Methods() []Method
}

// PublishableKeyer is a Provider whose browser script (Stripe.js) needs a
// public key: its KindCardElement methods, and NextActionStripeSDK next
// actions, are handled with it.
type PublishableKeyer interface {
	PublishableKey() string
}

// Methods returns the payment methods every provider that takes new
// payments offers at checkout, in the order to show them: the default
// provider's first, then those of the other providers that accept methods
// of their own (MethodAcceptor), in the order they were given. A provider
// kept only for its earlier payments (the sandbox beside Stripe) offers
// none. Each method names its provider; none when no provider lists any.
func (s *Service) Methods() []Method {
	var out []Method
	for _, p := range s.offering() {
		l, ok := p.(MethodLister)
		if !ok {
			continue
		}
		for _, m := range l.Methods() {
			m.Provider = p.Name()
			if m.Kind == "" {
				m.Kind = KindRedirect
			}
			out = append(out, m)
		}
	}
	return out
}

// PublishableKeys returns, by provider name, the publishable key of every
// provider that takes new payments and has one (Stripe's pk_…, for
// Stripe.js); an empty map when none has.
func (s *Service) PublishableKeys() map[string]string {
	keys := map[string]string{}
	for _, p := range s.offering() {
		if k, ok := p.(PublishableKeyer); ok && k.PublishableKey() != "" {
			keys[p.Name()] = k.PublishableKey()
		}
	}
	return keys
}

// PublishableKey returns the publishable key of the provider named name
// (whether or not it takes new payments: a payment it still decides needs
// it); "" when it has none or is not configured.
func (s *Service) PublishableKey(name string) string {
	if k, ok := s.providers[name].(PublishableKeyer); ok {
		return k.PublishableKey()
	}
	return ""
}

// offering returns the providers that take new payments: the default one,
// then the others that accept methods of their own (providerFor sends no
// payment to any other).
func (s *Service) offering() []Provider {
	ps := []Provider{s.provider}
	for _, p := range s.order {
		if _, ok := p.(MethodAcceptor); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// Methods implements MethodLister: the sandbox's test cards and what each
// does.
func (s *Sandbox) Methods() []Method {
	return []Method{
		{ID: "pm_card_visa", Name: "Visa test card", Kind: KindTest, TestMode: true, Outcome: "succeeds"},
		{ID: "pm_card_mastercard", Name: "Mastercard test card", Kind: KindTest, TestMode: true, Outcome: "succeeds"},
		{ID: "pm_card_chargeDeclined", Name: "Declined test card", Kind: KindTest, TestMode: true, Outcome: "is declined (generic decline)", Declines: true},
		{ID: "pm_card_insufficientFunds", Name: "Card with insufficient funds", Kind: KindTest, TestMode: true, Outcome: "is declined (insufficient funds)", Declines: true},
		{ID: "pm_card_expired", Name: "Expired test card", Kind: KindTest, TestMode: true, Outcome: "is declined (expired card)", Declines: true},
	}
}
