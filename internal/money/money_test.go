package money

import (
	"errors"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		m     Money
		valid bool
	}{
		{Money{100, "EUR"}, true},
		{Money{0, "JPY"}, true},
		{Money{-5, "USD"}, true},
		{Money{1, "eur"}, false},
		{Money{1, "EURO"}, false},
		{Money{1, ""}, false},
		{Money{MaxAmount + 1, "EUR"}, false},
		{Money{-MaxAmount - 1, "EUR"}, false},
	}
	for _, tt := range tests {
		if err := tt.m.Validate(); (err == nil) != tt.valid {
			t.Errorf("%+v: Validate() = %v, want valid=%v", tt.m, err, tt.valid)
		}
	}
}

func TestArithmetic(t *testing.T) {
	a := Money{1999, "EUR"}
	sum, err := a.Add(Money{1, "EUR"})
	if err != nil || sum != (Money{2000, "EUR"}) {
		t.Fatalf("Add = %v, %v", sum, err)
	}
	if _, err := a.Add(Money{1, "USD"}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Fatalf("Add across currencies: err = %v", err)
	}
	if d, _ := a.Sub(Money{999, "EUR"}); d.Amount != 1000 {
		t.Fatalf("Sub = %v", d)
	}
	if got := a.Mul(3); got.Amount != 5997 {
		t.Fatalf("Mul = %v", got)
	}
	if got := (Money{1000, "EUR"}).Percent(1900); got.Amount != 190 {
		t.Fatalf("Percent 19%% of 10.00 = %v", got)
	}
	if got := (Money{5, "EUR"}).Percent(5000); got.Amount != 3 {
		t.Fatalf("Percent rounds half away from zero: got %v", got)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{Money{1234, "EUR"}, "€12.34"},
		{Money{5, "USD"}, "$0.05"},
		{Money{-250, "GBP"}, "£-2.50"},
		{Money{1500, "JPY"}, "1500 JPY"},
		{Money{1234, "KWD"}, "1.234 KWD"},
		{Money{100, "CHF"}, "1.00 CHF"},
	}
	for _, tt := range tests {
		if got := tt.m.Format(); got != tt.want {
			t.Errorf("%+v.Format() = %q, want %q", tt.m, got, tt.want)
		}
	}
}

// TestExponent: ISO 4217's minor units. IDR has two (sen) although
// nobody pays in them; VND has none.
func TestExponent(t *testing.T) {
	for c, want := range map[string]int{"EUR": 2, "IDR": 2, "PHP": 2, "THB": 2, "MYR": 2, "USD": 2, "VND": 0, "JPY": 0, "KWD": 3} {
		if got := Exponent(c); got != want {
			t.Errorf("Exponent(%s) = %d, want %d", c, got, want)
		}
	}
}
