package money

import (
	"errors"
	"slices"
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

func TestAllocate(t *testing.T) {
	tests := []struct {
		name    string
		amount  int64
		weights []int64
		want    []int64
	}{
		{"even", 300, []int64{1, 1, 1}, []int64{100, 100, 100}},
		{"thirds: the remainder goes to the first", 100, []int64{1, 1, 1}, []int64{34, 33, 33}},
		{"proportional", 1000, []int64{2999, 1999, 5002}, []int64{300, 200, 500}},
		{"largest remainder wins", 10, []int64{3, 3, 4}, []int64{3, 3, 4}},
		{"remainders 0.6 0.3 0.1", 1, []int64{6, 3, 1}, []int64{1, 0, 0}},
		{"zero weight gets nothing", 7, []int64{0, 5, 0}, []int64{0, 7, 0}},
		{"all weights zero: evenly", 5, []int64{0, 0}, []int64{3, 2}},
		{"nothing to split", 0, []int64{4, 9}, []int64{0, 0}},
		{"huge amounts do not overflow", 1_000_000_000_000, []int64{1_000_000_000_000, 1_000_000_000_000, 1}, []int64{500_000_000_000, 500_000_000_000, 0}},
		{"no weights", 5, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Allocate(tt.amount, tt.weights)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Allocate(%d, %v) = %v, want %v", tt.amount, tt.weights, got, tt.want)
			}
			var sum int64
			for _, p := range got {
				sum += p
			}
			if len(tt.weights) > 0 && sum != tt.amount {
				t.Fatalf("parts sum to %d, want %d", sum, tt.amount)
			}
		})
	}
}

func TestAllocateSumsExactly(t *testing.T) {
	// Every split of every amount up to 500 over awkward weights sums exactly
	// and no part strays more than one unit from its exact share.
	weights := []int64{7, 13, 1, 999, 3}
	var total int64
	for _, w := range weights {
		total += w
	}
	for amount := int64(0); amount <= 500; amount++ {
		parts := Allocate(amount, weights)
		var sum int64
		for i, p := range parts {
			sum += p
			exact := float64(amount) * float64(weights[i]) / float64(total)
			if float64(p) < exact-1 || float64(p) > exact+1 {
				t.Fatalf("Allocate(%d): part %d is %d, exact share %.2f", amount, i, p, exact)
			}
		}
		if sum != amount {
			t.Fatalf("Allocate(%d) = %v sums to %d", amount, parts, sum)
		}
	}
}

func TestPercentOf(t *testing.T) {
	for _, tt := range []struct{ amount, pct, want int64 }{
		{1005, 10, 101}, {1004, 10, 100}, {999, 100, 999}, {999, 0, 0}, {1, 50, 1}, {3, 33, 1},
	} {
		if got := PercentOf(tt.amount, tt.pct); got != tt.want {
			t.Errorf("PercentOf(%d, %d) = %d, want %d", tt.amount, tt.pct, got, tt.want)
		}
	}
}
