package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
	"github.com/mercato-shop/mercato/internal/shipping"
	"github.com/mercato-shop/mercato/internal/tax"
)

// HTTP contract tests of the shipping-zone and tax-rate admin API, on
// SQLite and PostgreSQL, every answer checked against openapi.json.

// shippingTaxState is everything the admin API of shipping and tax can change.
func (a *testAPI) shippingTaxState() string {
	a.t.Helper()
	ctx := context.Background()
	zs, err := a.app.Shipping.Zones(ctx)
	if err != nil {
		a.t.Fatal(err)
	}
	rs, err := a.app.Tax.Rates(ctx)
	if err != nil {
		a.t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"zones": zs, "rates": rs})
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}

func TestShippingAdminAPI(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		staff := bearer(api.staff)
		const zones = "/api/v1/admin/shipping/zones"

		var list shipping.ZoneList
		api.do("GET", zones, nil, staff).wantStatus(http.StatusOK).decode(&list)
		if list.DefaultCountry != "DE" || list.Currency != "EUR" || len(list.Items) != 3 ||
			list.Items[0].Name != "Domestic" || list.Items[1].Name != "EU" || list.Items[2].Name != "World" {
			t.Fatalf("default zones: %+v", list)
		}
		domestic := list.Items[0]

		nordics := `{"name":"Nordics","countries":["NO","is"],"rates":[{"name":"Standard","price":{"amount":1490,"currency":"EUR"},"free_over":{"amount":15000,"currency":"EUR"},"min_days":3,"max_days":6},{"name":"Express","price":{"amount":2990,"currency":"EUR"},"free_over":null}]}`
		res := api.do("POST", zones, nordics, staff).wantStatus(http.StatusCreated)
		var z shipping.Zone
		res.decode(&z)
		if res.Header.Get("Location") != zones+"/"+z.ID || z.Name != "Nordics" || strings.Join(z.Countries, ",") != "IS,NO" || len(z.Rates) != 2 || z.Rates[1].FreeOver != nil {
			t.Fatalf("created %+v (Location %q)", z, res.Header.Get("Location"))
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("Cache-Control %q", cc)
		}
		ms, err := api.app.Shipping.Methods(context.Background(), "NO", eur(15000))
		if err != nil || len(ms) != 2 || ms[0].Name != "Standard" || ms[0].Price.Amount != 0 {
			t.Fatalf("methods to Norway after create: %+v %v", ms, err)
		}

		// Serbia (RS) is in no zone but World's "*".
		rate := func(fields string) string {
			return `{"name":"Balkans","countries":["RS"],"rates":[{"name":"Standard","price":{"amount":990,"currency":"EUR"}` + fields + `}]}`
		}
		long := strings.Repeat("x", 101)
		cases := []badCase{
			{"no body fields", "POST", zones, `{}`, nil, 400, "name"},
			{"null", "POST", zones, `null`, nil, 400, "countries"},
			{"bad country", "POST", zones, `{"name":"X","countries":["XX"]}`, nil, 400, "countries[0]"},
			{"country a number", "POST", zones, `{"name":"X","countries":[49]}`, nil, 400, "countries"},
			{"countries a string", "POST", zones, `{"name":"X","countries":"DE"}`, nil, 400, "countries"},
			{"three-letter country", "POST", zones, `{"name":"X","countries":["DEU"]}`, nil, 400, "countries[0]"},
			{"country twice", "POST", zones, `{"name":"X","countries":["RS","rs"]}`, nil, 400, "countries[1]"},
			{"name too long", "POST", zones, `{"name":"` + long + `","countries":["RS"]}`, nil, 400, "name"},
			{"negative price", "POST", zones, strings.Replace(rate(""), `"amount":990`, `"amount":-1`, 1), nil, 400, "rates[0].price.amount"},
			{"price above max", "POST", zones, strings.Replace(rate(""), `"amount":990`, `"amount":1000000000001`, 1), nil, 400, "rates[0].price.amount"},
			{"price 1e30", "POST", zones, strings.Replace(rate(""), `"amount":990`, `"amount":1e30`, 1), nil, 400, "rates.price.amount"},
			{"price a fraction", "POST", zones, strings.Replace(rate(""), `"amount":990`, `"amount":9.9`, 1), nil, 400, "rates.price.amount"},
			{"price a string", "POST", zones, strings.Replace(rate(""), `"amount":990`, `"amount":"9.90"`, 1), nil, 400, "rates.price.amount"},
			{"price in another currency", "POST", zones, strings.Replace(rate(""), `"EUR"`, `"USD"`, 1), nil, 400, "rates[0].price.currency"},
			{"no price", "POST", zones, `{"name":"Balkans","countries":["RS"],"rates":[{"name":"Standard"}]}`, nil, 400, "rates[0].price.currency"},
			{"threshold currency mismatch", "POST", zones, rate(`,"free_over":{"amount":5000,"currency":"USD"}`), nil, 400, "rates[0].free_over.currency"},
			{"negative threshold", "POST", zones, rate(`,"free_over":{"amount":-5,"currency":"EUR"}`), nil, 400, "rates[0].free_over.amount"},
			{"max_days below min_days", "POST", zones, rate(`,"min_days":5,"max_days":2`), nil, 400, "rates[0].max_days"},
			{"days a string", "POST", zones, rate(`,"min_days":"2"`), nil, 400, "rates.min_days"},
			{"unknown rate field", "POST", zones, rate(`,"weight":1`), nil, 400, "weight"},
			{"rate id on create", "POST", zones, rate(`,"id":"` + domestic.Rates[0].ID + `"`), nil, 400, "rates[0].id"},
			{"country of another zone", "POST", zones, `{"name":"X","countries":["RS","DE"]}`, nil, 409, "countries[1]"},
			{"second wildcard", "POST", zones, `{"name":"X","countries":["*"]}`, nil, 409, "countries[0]"},
			{"name taken", "POST", zones, `{"name":"nordics","countries":["RS"]}`, nil, 409, "name"},
			{"replace unknown zone", "PUT", zones + "/nope", rate(""), nil, 404, ""},
			{"replace zone id invalid UTF-8", "PUT", zones + "/%ff", rate(""), nil, 400, "id"},
			{"replace with a rate of another zone", "PUT", zones + "/" + z.ID, rate(`,"id":"` + domestic.Rates[0].ID + `"`), nil, 400, "rates[0].id"},
			{"replace taking another zone's country", "PUT", zones + "/" + z.ID, `{"name":"Nordics","countries":["NO","FR"]}`, nil, 409, "countries[1]"},
			{"replace with bad country", "PUT", zones + "/" + z.ID, `{"name":"Nordics","countries":["N0"]}`, nil, 400, "countries[0]"},
			{"delete unknown zone", "DELETE", zones + "/nope", nil, nil, 404, ""},
			{"delete zone id invalid UTF-8", "DELETE", zones + "/%ff", nil, nil, 400, "id"},
		}
		for _, route := range []struct{ method, target string }{{"POST", zones}, {"PUT", zones + "/" + z.ID}} {
			for _, c := range malformedBodies(route.method, route.target) {
				c.name = route.method + ": " + c.name
				cases = append(cases, c)
			}
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				api := *api
				api.t = t
				before := api.shippingTaxState()
				api.do(c.method, c.target, c.body, append(c.opts, staff)...).wantProblem(c.status, c.field)
				if after := api.shippingTaxState(); after != before {
					t.Fatalf("the refused request changed the database: %s", firstDiff(before, after))
				}
			})
		}

		// Replace: Standard keeps its id and gets a new price, Express goes,
		// Economy is new.
		replaced := `{"name":"Nordic countries","countries":["NO","IS","SE"],"rates":[{"name":"Economy","price":{"amount":990,"currency":"EUR"}},` +
			`{"id":"` + z.Rates[0].ID + `","name":"Standard","price":{"amount":1590,"currency":"EUR"},"free_over":{"amount":20000,"currency":"EUR"}}]}`
		// SE is in the EU zone: it must leave it first.
		api.do("PUT", zones+"/"+z.ID, replaced, staff).wantProblem(http.StatusConflict, "countries[2]")
		api.do("PUT", zones+"/"+z.ID, strings.Replace(replaced, `,"SE"`, "", 1), staff).wantStatus(http.StatusOK).decode(&z)
		if z.Name != "Nordic countries" || len(z.Rates) != 2 || z.Rates[0].Name != "Economy" || z.Rates[1].Price.Amount != 1590 {
			t.Fatalf("replaced %+v", z)
		}
		m, err := api.app.Shipping.Method(context.Background(), z.Rates[1].ID, "IS", eur(19999))
		if err != nil || m.Price.Amount != 1590 {
			t.Fatalf("kept rate after replace: %+v %v", m, err)
		}

		// Delete.
		res = api.do("DELETE", zones+"/"+z.ID, nil, staff).wantStatus(http.StatusNoContent)
		if len(res.Body) != 0 {
			t.Fatalf("204 with a body: %q", res.Body)
		}
		api.do("DELETE", zones+"/"+z.ID, nil, staff).wantProblem(http.StatusNotFound, "")
		api.do("GET", zones, nil, staff).wantStatus(http.StatusOK).decode(&list)
		if len(list.Items) != 3 {
			t.Fatalf("%d zones after delete", len(list.Items))
		}
		if ms, _ := api.app.Shipping.Methods(context.Background(), "NO", eur(100)); len(ms) != 1 || ms[0].Name != "International" {
			t.Fatalf("Norway falls back to World: %+v", ms)
		}

		// Staff only, with the body refused unread.
		for _, c := range []struct{ method, target, body string }{
			{"GET", zones, ""}, {"POST", zones, nordics}, {"PUT", zones + "/" + domestic.ID, nordics}, {"DELETE", zones + "/" + domestic.ID, ""},
		} {
			var b any
			if c.body != "" {
				b = c.body
			}
			before := api.shippingTaxState()
			api.do(c.method, c.target, b).wantProblem(http.StatusUnauthorized, "")
			api.do(c.method, c.target, b, bearer(api.customer)).wantProblem(http.StatusForbidden, "")
			if after := api.shippingTaxState(); after != before {
				t.Fatalf("%s %s by a non-staff caller changed the database", c.method, c.target)
			}
		}
	})
}

func TestTaxAdminAPI(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		staff := bearer(api.staff)
		ctx := context.Background()
		const rates = "/api/v1/admin/tax/rates"

		var list tax.RateList
		api.do("GET", rates, nil, staff).wantStatus(http.StatusOK).decode(&list)
		if list.PricesIncludeTax || list.DefaultCountry != "DE" || len(list.Items) != 28 || list.Items[0].Country != "*" {
			t.Fatalf("rates: %+v", list)
		}
		want := map[string]int64{"*": 0, "DE": 1900, "FR": 2000, "NL": 2100, "IT": 2200, "ES": 2100, "AT": 2000, "BE": 2100}
		for _, r := range list.Items {
			if bp, ok := want[r.Country]; ok && r.RateBP != bp {
				t.Errorf("%s = %d, want %d", r.Country, r.RateBP, bp)
			}
		}

		cases := []badCase{
			{"unknown country", "PUT", rates + "/XX", `{"rate_bp":1900}`, nil, 400, "country"},
			{"three letters", "PUT", rates + "/DEU", `{"rate_bp":1900}`, nil, 400, "country"},
			{"country invalid UTF-8", "PUT", rates + "/%ff", `{"rate_bp":1900}`, nil, 400, "country"},
			{"negative rate", "PUT", rates + "/DE", `{"rate_bp":-1}`, nil, 400, "rate_bp"},
			{"above 100%", "PUT", rates + "/DE", `{"rate_bp":10001}`, nil, 400, "rate_bp"},
			{"a fraction", "PUT", rates + "/DE", `{"rate_bp":19.5}`, nil, 400, "rate_bp"},
			{"1e30", "PUT", rates + "/DE", `{"rate_bp":1e30}`, nil, 400, "rate_bp"},
			{"a string", "PUT", rates + "/DE", `{"rate_bp":"1900"}`, nil, 400, "rate_bp"},
			{"missing", "PUT", rates + "/DE", `{}`, nil, 400, "rate_bp"},
			{"null", "PUT", rates + "/DE", `{"rate_bp":null}`, nil, 400, "rate_bp"},
			{"percent instead of basis points", "PUT", rates + "/DE", `{"rate":19}`, nil, 400, "rate"},
			{"missing and bad country", "PUT", rates + "/nope", `{}`, nil, 400, "country"},
		}
		for _, c := range malformedBodies("PUT", rates+"/DE") {
			c.name = "malformed: " + c.name
			cases = append(cases, c)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				api := *api
				api.t = t
				before := api.shippingTaxState()
				api.do(c.method, c.target, c.body, append(c.opts, staff)...).wantProblem(c.status, c.field)
				if after := api.shippingTaxState(); after != before {
					t.Fatalf("the refused request changed the database: %s", firstDiff(before, after))
				}
			})
		}

		var r tax.Rate
		api.do("PUT", rates+"/de", `{"rate_bp":700}`, staff).wantStatus(http.StatusOK).decode(&r)
		if r.Country != "DE" || r.RateBP != 700 || r.UpdatedAt.IsZero() {
			t.Fatalf("set DE: %+v", r)
		}
		api.do("PUT", rates+"/*", `{"rate_bp":500}`, staff).wantStatus(http.StatusOK).decode(&r)
		api.do("PUT", rates+"/GB", `{"rate_bp":2000}`, staff).wantStatus(http.StatusOK).decode(&r)
		if r.Country != "GB" || r.RateBP != 2000 {
			t.Fatalf("set GB: %+v", r)
		}
		for _, c := range []struct {
			country string
			want    int64
		}{{"DE", 700}, {"", 700}, {"GB", 2000}, {"US", 500}, {"FR", 2000}} {
			b, err := api.app.Tax.Calculate(ctx, c.country, eur(10000))
			if err != nil || b.Tax.Amount != c.want || b.Inclusive {
				t.Errorf("Calculate(%q) = %+v %v, want %d", c.country, b, err, c.want)
			}
		}
		api.do("GET", rates, nil, staff).wantStatus(http.StatusOK).decode(&list)
		if len(list.Items) != 29 {
			t.Fatalf("%d rates after adding GB", len(list.Items))
		}

		before := api.shippingTaxState()
		api.do("GET", rates, nil).wantProblem(http.StatusUnauthorized, "")
		api.do("GET", rates, nil, bearer(api.customer)).wantProblem(http.StatusForbidden, "")
		api.do("PUT", rates+"/DE", `{"rate_bp":0}`).wantProblem(http.StatusUnauthorized, "")
		api.do("PUT", rates+"/DE", `{"rate_bp":0}`, bearer(api.customer)).wantProblem(http.StatusForbidden, "")
		if after := api.shippingTaxState(); after != before {
			t.Fatal("a non-staff caller changed a tax rate")
		}
	})
}

func TestShippingTaxConfig(t *testing.T) {
	getenv := func(env map[string]string) func(string) string { return func(k string) string { return env[k] } }
	c := defaultConfig(getenv(nil))
	if c.DefaultCountry != "DE" || !c.PricesIncludeTax || c.validate() != nil {
		t.Fatalf("defaults: %q %v %v", c.DefaultCountry, c.PricesIncludeTax, c.validate())
	}
	c = defaultConfig(getenv(map[string]string{"MERCATO_DEFAULT_COUNTRY": " fr", "MERCATO_PRICES_INCLUDE_TAX": "false"}))
	if c.DefaultCountry != "FR" || c.PricesIncludeTax || c.validate() != nil {
		t.Fatalf("FR, exclusive: %q %v %v", c.DefaultCountry, c.PricesIncludeTax, c.validate())
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unknown country", map[string]string{"MERCATO_DEFAULT_COUNTRY": "XX"}, "MERCATO_DEFAULT_COUNTRY"},
		{"three letters", map[string]string{"MERCATO_DEFAULT_COUNTRY": "DEU"}, "MERCATO_DEFAULT_COUNTRY"},
		{"wildcard", map[string]string{"MERCATO_DEFAULT_COUNTRY": "*"}, "MERCATO_DEFAULT_COUNTRY"},
		{"yes", map[string]string{"MERCATO_PRICES_INCLUDE_TAX": "yes"}, "MERCATO_PRICES_INCLUDE_TAX"},
		{"TRUE", map[string]string{"MERCATO_PRICES_INCLUDE_TAX": "TRUE"}, "MERCATO_PRICES_INCLUDE_TAX"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"MERCATO_DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			var out, errOut bytes.Buffer
			err := Run(context.Background(), []string{"mercato", "migrate"}, getenv(env), strings.NewReader(""), &out, &errOut)
			if !IsUsage(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a usage error naming %s", err, tt.want)
			}
		})
	}
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"mercato", "help"}, getenv(nil), strings.NewReader(""), &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "MERCATO_DEFAULT_COUNTRY") || !strings.Contains(out.String(), "MERCATO_PRICES_INCLUDE_TAX") {
		t.Fatalf("help does not list the shipping and tax settings: %v\n%s", err, out.String())
	}
}
