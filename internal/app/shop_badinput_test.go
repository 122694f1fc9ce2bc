package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// shopTables is everything a refused shop request could change.
var shopTables = []string{"cart_carts", "cart_items", "order_orders", "order_items", "order_fulfillments", "order_timeline",
	"payment_payments", "payment_refunds", "checkout_requests", "inventory_stock", "inventory_reservations", "inventory_movements", "outbox_events"}

// TestShopBadInput sends every shop route input a client should not send:
// each is a 4xx problem naming the field (when there is one), never a 500,
// and leaves every cart, order, payment, stock level, idempotency record
// and event as it was.
func TestShopBadInput(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		staff := []reqOpt{bearer(api.staff)}
		carl := []reqOpt{bearer(api.customer)}
		a, b := api.product("BADSHOP-A", 1000, 10), api.product("BADSHOP-B", 500, 1)

		guest := api.cartWith(nil, a, 1)
		gi := guest.Items[0].ID
		owned := api.cartWith(carl, a, 1)
		// A checked-out cart whose order is paid and unfulfilled, and a shipped order.
		done := api.cartWith(nil, a, 2, b, 1)
		var placed checkout.Result
		api.checkout(done.ID, "bad-done", api.checkoutBody(done.ID, "buyer@example.com", "pm_card_visa")).wantStatus(http.StatusCreated).decode(&placed)
		paid := placed.Order
		shipped := api.placeOrder(nil, a, 1)
		var sh order.Order
		api.do("POST", "/api/v1/admin/orders/"+shipped.ID+"/fulfillments", map[string]any{"items": []map[string]any{{"item_id": shipped.Items[0].ID, "quantity": 1}}, "tracking_number": "T-1"}, staff...).
			wantStatus(http.StatusCreated).decode(&sh)

		long := func(n int) string { return strings.Repeat("x", n) }
		good := api.checkoutBody(guest.ID, "buyer@example.com", "pm_card_visa")
		// with returns the good checkout body changed by f.
		with := func(f func(m, addr map[string]any)) map[string]any {
			var m map[string]any
			raw, _ := json.Marshal(good)
			json.Unmarshal(raw, &m)
			f(m, m["shipping_address"].(map[string]any))
			return m
		}
		key := header("Idempotency-Key", "bad-input-key")
		co := "/api/v1/carts/" + guest.ID + "/checkout"
		items := "/api/v1/carts/" + guest.ID + "/items"
		item := items + "/" + gi
		ord := "/api/v1/admin/orders/" + paid.ID
		line := func(id string, q any) map[string]any {
			return map[string]any{"items": []map[string]any{{"item_id": id, "quantity": q}}}
		}
		var cases []badCase
		add := func(cs ...badCase) { cases = append(cases, cs...) }

		add(
			// Create a cart.
			badCase{"create: other currency", "POST", "/api/v1/carts", `{"currency":"USD"}`, nil, 400, "currency"},
			badCase{"create: currency lower case", "POST", "/api/v1/carts", `{"currency":"eur"}`, nil, 400, "currency"},
			badCase{"create: currency a number", "POST", "/api/v1/carts", `{"currency":978}`, nil, 400, "currency"},
			badCase{"create: currency NUL", "POST", "/api/v1/carts", `{"currency":"\u0000"}`, nil, 400, "currency"},
			badCase{"create: bad token", "POST", "/api/v1/carts", nil, []reqOpt{bearer("mct_nope")}, 401, ""},

			// Read a cart.
			badCase{"get: unknown cart", "GET", "/api/v1/carts/cart_nope", nil, nil, 404, ""},
			badCase{"get: id invalid UTF-8", "GET", "/api/v1/carts/%ff", nil, nil, 400, "id"},
			badCase{"get: id huge", "GET", "/api/v1/carts/" + long(5000), nil, nil, 404, ""},
			badCase{"get: id NUL", "GET", "/api/v1/carts/%00", nil, nil, 400, "id"},
			badCase{"get: another customer's cart", "GET", "/api/v1/carts/" + owned.ID, nil, nil, 404, ""},

			// Add an item.
			badCase{"add: quantity 0", "POST", items, map[string]any{"variant_id": a, "quantity": 0}, nil, 400, "quantity"},
			badCase{"add: quantity -1", "POST", items, map[string]any{"variant_id": a, "quantity": -1}, nil, 400, "quantity"},
			badCase{"add: quantity 1000", "POST", items, map[string]any{"variant_id": a, "quantity": 1000}, nil, 400, "quantity"},
			badCase{"add: quantity 1e30", "POST", items, `{"variant_id":"` + a + `","quantity":1e30}`, nil, 400, "quantity"},
			badCase{"add: quantity 2^63", "POST", items, `{"variant_id":"` + a + `","quantity":9223372036854775808}`, nil, 400, "quantity"},
			badCase{"add: quantity -2^63", "POST", items, `{"variant_id":"` + a + `","quantity":-9223372036854775808}`, nil, 400, "quantity"},
			badCase{"add: quantity a fraction", "POST", items, `{"variant_id":"` + a + `","quantity":1.5}`, nil, 400, "quantity"},
			badCase{"add: quantity a string", "POST", items, `{"variant_id":"` + a + `","quantity":"2"}`, nil, 400, "quantity"},
			badCase{"add: more than 999 in all", "POST", items, map[string]any{"variant_id": a, "quantity": 999}, nil, 400, "quantity"},
			badCase{"add: more than in stock", "POST", items, map[string]any{"variant_id": b, "quantity": 2}, nil, 409, "quantity"},
			badCase{"add: no variant", "POST", items, map[string]any{"quantity": 1}, nil, 400, "variant_id"},
			badCase{"add: variant empty", "POST", items, map[string]any{"variant_id": "", "quantity": 1}, nil, 400, "variant_id"},
			badCase{"add: variant a number", "POST", items, `{"variant_id":5}`, nil, 400, "variant_id"},
			badCase{"add: variant null", "POST", items, `{"variant_id":null}`, nil, 400, "variant_id"},
			badCase{"add: unknown variant", "POST", items, map[string]any{"variant_id": "nope"}, nil, 400, "variant_id"},
			badCase{"add: variant huge", "POST", items, map[string]any{"variant_id": long(5000)}, nil, 400, "variant_id"},
			badCase{"add: variant NUL", "POST", items, `{"variant_id":"\u0000"}`, nil, 400, "variant_id"},
			badCase{"add: null body", "POST", items, `null`, nil, 400, "variant_id"},
			badCase{"add: unknown cart", "POST", "/api/v1/carts/cart_nope/items", map[string]any{"variant_id": a}, nil, 404, ""},
			badCase{"add: cart id invalid UTF-8", "POST", "/api/v1/carts/%ff/items", map[string]any{"variant_id": a}, nil, 400, "id"},
			badCase{"add: cart id NUL", "POST", "/api/v1/carts/%00/items", map[string]any{"variant_id": a}, nil, 400, "id"},
			badCase{"add: another customer's cart", "POST", "/api/v1/carts/" + owned.ID + "/items", map[string]any{"variant_id": a}, nil, 404, ""},
			badCase{"add: checked-out cart", "POST", "/api/v1/carts/" + done.ID + "/items", map[string]any{"variant_id": a}, nil, 409, ""},

			// Change a line.
			badCase{"patch: quantity -1", "PATCH", item, map[string]any{"quantity": -1}, nil, 400, "quantity"},
			badCase{"patch: quantity 1000", "PATCH", item, map[string]any{"quantity": 1000}, nil, 400, "quantity"},
			badCase{"patch: quantity 1e30", "PATCH", item, `{"quantity":1e30}`, nil, 400, "quantity"},
			badCase{"patch: quantity 2^63", "PATCH", item, `{"quantity":9223372036854775808}`, nil, 400, "quantity"},
			badCase{"patch: quantity a string", "PATCH", item, `{"quantity":"1"}`, nil, 400, "quantity"},
			badCase{"patch: quantity null", "PATCH", item, `{"quantity":null}`, nil, 400, "quantity"},
			badCase{"patch: no quantity", "PATCH", item, `{}`, nil, 400, "quantity"},
			badCase{"patch: more than in stock", "PATCH", item, map[string]any{"quantity": 11}, nil, 409, "quantity"},
			badCase{"patch: unknown item", "PATCH", items + "/nope", map[string]any{"quantity": 1}, nil, 404, ""},
			badCase{"patch: item of another cart", "PATCH", items + "/" + owned.Items[0].ID, map[string]any{"quantity": 1}, nil, 404, ""},
			badCase{"patch: item id invalid UTF-8", "PATCH", items + "/%ff", map[string]any{"quantity": 1}, nil, 400, "item_id"},
			badCase{"patch: item id NUL", "PATCH", items + "/%00", map[string]any{"quantity": 1}, nil, 400, "item_id"},
			badCase{"patch: unknown cart", "PATCH", "/api/v1/carts/cart_nope/items/" + gi, map[string]any{"quantity": 1}, nil, 404, ""},
			badCase{"patch: checked-out cart", "PATCH", "/api/v1/carts/" + done.ID + "/items/" + done.Items[0].ID, map[string]any{"quantity": 1}, nil, 409, ""},

			// Remove a line.
			badCase{"delete: unknown item", "DELETE", items + "/nope", nil, nil, 404, ""},
			badCase{"delete: item of another cart", "DELETE", items + "/" + owned.Items[0].ID, nil, nil, 404, ""},
			badCase{"delete: item id invalid UTF-8", "DELETE", items + "/%ff", nil, nil, 400, "item_id"},
			badCase{"delete: unknown cart", "DELETE", "/api/v1/carts/cart_nope/items/" + gi, nil, nil, 404, ""},
			badCase{"delete: another customer's line", "DELETE", "/api/v1/carts/" + owned.ID + "/items/" + owned.Items[0].ID, nil, nil, 404, ""},
			badCase{"delete: checked-out cart", "DELETE", "/api/v1/carts/" + done.ID + "/items/" + done.Items[0].ID, nil, nil, 409, ""},

			// Shipping methods.
			badCase{"methods: no cart", "GET", "/api/v1/shipping-methods", nil, nil, 400, "cart_id"},
			badCase{"methods: unknown cart", "GET", "/api/v1/shipping-methods?cart_id=cart_nope", nil, nil, 404, ""},
			badCase{"methods: cart invalid UTF-8", "GET", "/api/v1/shipping-methods?cart_id=%ff", nil, nil, 400, "cart_id"},
			badCase{"methods: cart NUL", "GET", "/api/v1/shipping-methods?cart_id=%00", nil, nil, 400, "cart_id"},
			badCase{"methods: another customer's cart", "GET", "/api/v1/shipping-methods?cart_id=" + owned.ID, nil, nil, 404, ""},
			badCase{"methods: country of 3 letters", "GET", "/api/v1/shipping-methods?cart_id=" + guest.ID + "&country=DEU", nil, nil, 400, "country"},
			badCase{"methods: unknown country", "GET", "/api/v1/shipping-methods?cart_id=" + guest.ID + "&country=XX", nil, nil, 400, "country"},
			badCase{"methods: country digits", "GET", "/api/v1/shipping-methods?cart_id=" + guest.ID + "&country=12", nil, nil, 400, "country"},
			badCase{"methods: country NUL", "GET", "/api/v1/shipping-methods?cart_id=" + guest.ID + "&country=%00", nil, nil, 400, "country"},
			badCase{"methods: country invalid UTF-8", "GET", "/api/v1/shipping-methods?cart_id=" + guest.ID + "&country=%ff", nil, nil, 400, "country"},
			badCase{"payment methods: no cart", "GET", "/api/v1/payment-methods", nil, nil, 400, "cart_id"},
			badCase{"payment methods: unknown cart", "GET", "/api/v1/payment-methods?cart_id=cart_nope", nil, nil, 404, ""},
			badCase{"payment methods: cart invalid UTF-8", "GET", "/api/v1/payment-methods?cart_id=%ff", nil, nil, 400, "cart_id"},
			badCase{"payment methods: cart NUL", "GET", "/api/v1/payment-methods?cart_id=%00", nil, nil, 400, "cart_id"},
			badCase{"payment methods: cart huge", "GET", "/api/v1/payment-methods?cart_id=" + long(5000), nil, nil, 404, ""},
			badCase{"payment methods: another customer's cart", "GET", "/api/v1/payment-methods?cart_id=" + owned.ID, nil, nil, 404, ""},
			badCase{"methods: country huge", "GET", "/api/v1/shipping-methods?cart_id=" + guest.ID + "&country=" + long(5000), nil, nil, 400, "country"},

			// Checkout: the key.
			badCase{"checkout: no key", "POST", co, good, nil, 400, "Idempotency-Key"},
			badCase{"checkout: key too long", "POST", co, good, []reqOpt{header("Idempotency-Key", long(201))}, 400, "Idempotency-Key"},
			badCase{"checkout: key with a space", "POST", co, good, []reqOpt{header("Idempotency-Key", "a b")}, 400, "Idempotency-Key"},
			badCase{"checkout: key not UTF-8", "POST", co, good, []reqOpt{header("Idempotency-Key", "k\xff\xfe")}, 400, "Idempotency-Key"},
			badCase{"checkout: key with a control character", "POST", co, good, []reqOpt{header("Idempotency-Key", "k\x01")}, 400, "Idempotency-Key"},
			// The cart.
			badCase{"checkout: unknown cart", "POST", "/api/v1/carts/cart_nope/checkout", good, []reqOpt{key}, 404, ""},
			badCase{"checkout: cart id invalid UTF-8", "POST", "/api/v1/carts/%ff/checkout", good, []reqOpt{key}, 400, "id"},
			badCase{"checkout: cart id huge", "POST", "/api/v1/carts/" + long(5000) + "/checkout", good, []reqOpt{key}, 404, ""},
			badCase{"checkout: cart id NUL", "POST", "/api/v1/carts/%00/checkout", good, []reqOpt{key}, 400, "id"},
			badCase{"checkout: another customer's cart", "POST", "/api/v1/carts/" + owned.ID + "/checkout", good, []reqOpt{key}, 404, ""},
			// The body.
			badCase{"checkout: null body", "POST", co, `null`, []reqOpt{key}, 400, "email"},
			badCase{"checkout: no e-mail", "POST", co, with(func(m, _ map[string]any) { delete(m, "email") }), []reqOpt{key}, 400, "email"},
			badCase{"checkout: e-mail malformed", "POST", co, with(func(m, _ map[string]any) { m["email"] = "not-an-email" }), []reqOpt{key}, 400, "email"},
			badCase{"checkout: e-mail a number", "POST", co, with(func(m, _ map[string]any) { m["email"] = 5 }), []reqOpt{key}, 400, "email"},
			badCase{"checkout: e-mail huge", "POST", co, with(func(m, _ map[string]any) { m["email"] = long(300) + "@example.com" }), []reqOpt{key}, 400, "email"},
			badCase{"checkout: e-mail NUL", "POST", co, with(func(m, _ map[string]any) { m["email"] = "a\u0000@example.com" }), []reqOpt{key}, 400, "email"},
			badCase{"checkout: no address", "POST", co, with(func(m, _ map[string]any) { delete(m, "shipping_address") }), []reqOpt{key}, 400, "shipping_address.line1"},
			badCase{"checkout: address a string", "POST", co, with(func(m, _ map[string]any) { m["shipping_address"] = "Berlin" }), []reqOpt{key}, 400, "shipping_address"},
			badCase{"checkout: address unknown field", "POST", co, with(func(_, ad map[string]any) { ad["state"] = "BE" }), []reqOpt{key}, 400, "state"},
			badCase{"checkout: no name", "POST", co, with(func(_, ad map[string]any) { delete(ad, "name") }), []reqOpt{key}, 400, "shipping_address.name"},
			badCase{"checkout: blank name", "POST", co, with(func(_, ad map[string]any) { ad["name"] = "   " }), []reqOpt{key}, 400, "shipping_address.name"},
			badCase{"checkout: name too long", "POST", co, with(func(_, ad map[string]any) { ad["name"] = long(101) }), []reqOpt{key}, 400, "shipping_address.name"},
			badCase{"checkout: name with NUL", "POST", co, with(func(_, ad map[string]any) { ad["name"] = "Ada\u0000" }), []reqOpt{key}, 400, "shipping_address.name"},
			badCase{"checkout: line1 with a newline", "POST", co, with(func(_, ad map[string]any) { ad["line1"] = "Main St 1\nEvil" }), []reqOpt{key}, 400, "shipping_address.line1"},
			badCase{"checkout: no line1", "POST", co, with(func(_, ad map[string]any) { ad["line1"] = "" }), []reqOpt{key}, 400, "shipping_address.line1"},
			badCase{"checkout: line2 too long", "POST", co, with(func(_, ad map[string]any) { ad["line2"] = long(201) }), []reqOpt{key}, 400, "shipping_address.line2"},
			badCase{"checkout: no city", "POST", co, with(func(_, ad map[string]any) { delete(ad, "city") }), []reqOpt{key}, 400, "shipping_address.city"},
			badCase{"checkout: city a number", "POST", co, with(func(_, ad map[string]any) { ad["city"] = 10115 }), []reqOpt{key}, 400, "shipping_address.city"},
			badCase{"checkout: no postal code", "POST", co, with(func(_, ad map[string]any) { ad["postal_code"] = "" }), []reqOpt{key}, 400, "shipping_address.postal_code"},
			badCase{"checkout: postal code too long", "POST", co, with(func(_, ad map[string]any) { ad["postal_code"] = long(21) }), []reqOpt{key}, 400, "shipping_address.postal_code"},
			badCase{"checkout: no country", "POST", co, with(func(_, ad map[string]any) { delete(ad, "country") }), []reqOpt{key}, 400, "shipping_address.country"},
			badCase{"checkout: unknown country", "POST", co, with(func(_, ad map[string]any) { ad["country"] = "XX" }), []reqOpt{key}, 400, "shipping_address.country"},
			badCase{"checkout: country of 3 letters", "POST", co, with(func(_, ad map[string]any) { ad["country"] = "DEU" }), []reqOpt{key}, 400, "shipping_address.country"},
			badCase{"checkout: country a name", "POST", co, with(func(_, ad map[string]any) { ad["country"] = "Germany" }), []reqOpt{key}, 400, "shipping_address.country"},
			badCase{"checkout: no shipping method", "POST", co, with(func(m, _ map[string]any) { delete(m, "shipping_method_id") }), []reqOpt{key}, 400, "shipping_method_id"},
			badCase{"checkout: unknown shipping method", "POST", co, with(func(m, _ map[string]any) { m["shipping_method_id"] = "nope" }), []reqOpt{key}, 400, "shipping_method_id"},
			badCase{"checkout: shipping method NUL", "POST", co, with(func(m, _ map[string]any) { m["shipping_method_id"] = "\u0000" }), []reqOpt{key}, 400, "shipping_method_id"},
			badCase{"checkout: shipping method huge", "POST", co, with(func(m, _ map[string]any) { m["shipping_method_id"] = long(65) }), []reqOpt{key}, 400, "shipping_method_id"},
			badCase{"checkout: method of another country", "POST", co, with(func(_, ad map[string]any) { ad["country"] = "US" }), []reqOpt{key}, 400, "shipping_method_id"},
			badCase{"checkout: no payment method", "POST", co, with(func(m, _ map[string]any) { delete(m, "payment_method") }), []reqOpt{key}, 400, "payment_method"},
			badCase{"checkout: payment method without pm_", "POST", co, with(func(m, _ map[string]any) { m["payment_method"] = "visa" }), []reqOpt{key}, 400, "payment_method"},
			badCase{"checkout: payment method NUL", "POST", co, with(func(m, _ map[string]any) { m["payment_method"] = "pm_card_visa\u0000" }), []reqOpt{key}, 400, "payment_method"},
			badCase{"checkout: payment method huge", "POST", co, with(func(m, _ map[string]any) { m["payment_method"] = "pm_" + long(200) }), []reqOpt{key}, 400, "payment_method"},
			badCase{"checkout: payment method an object", "POST", co, with(func(m, _ map[string]any) { m["payment_method"] = map[string]any{"card": "4242"} }), []reqOpt{key}, 400, "payment_method"},
			badCase{"checkout: a total sent by the client", "POST", co, with(func(m, _ map[string]any) { m["total"] = 1 }), []reqOpt{key}, 400, "total"},

			// Read an order.
			badCase{"order: unknown", "GET", "/api/v1/orders/nope", nil, nil, 404, ""},
			badCase{"order: id invalid UTF-8", "GET", "/api/v1/orders/%ff", nil, nil, 400, "id"},
			badCase{"order: id huge", "GET", "/api/v1/orders/" + long(5000), nil, nil, 404, ""},
			badCase{"order: id NUL", "GET", "/api/v1/orders/%00?access_token=x", nil, nil, 400, "id"},
			badCase{"order: token wrong", "GET", "/api/v1/orders/" + paid.ID + "?access_token=oat_nope", nil, nil, 404, ""},
			badCase{"order: token huge", "GET", "/api/v1/orders/" + paid.ID + "?access_token=" + long(5000), nil, nil, 404, ""},
			badCase{"order: token invalid UTF-8", "GET", "/api/v1/orders/" + paid.ID + "?access_token=%ff", nil, nil, 400, "access_token"},
			badCase{"order: token NUL", "GET", "/api/v1/orders/" + paid.ID + "?access_token=%00", nil, nil, 400, "access_token"},
		)

		// Order lists: the customer's and the staff's take the same query.
		for _, base := range []struct {
			name, path string
			opts       []reqOpt
		}{{"my orders", "/api/v1/me/orders?", carl}, {"admin orders", "/api/v1/admin/orders?", staff}} {
			q := func(name, query string, field string) badCase {
				return badCase{base.name + ": " + name, "GET", base.path + query, nil, base.opts, 400, field}
			}
			add(
				q("limit 0", "limit=0", "limit"),
				q("limit 101", "limit=101", "limit"),
				q("limit abc", "limit=abc", "limit"),
				q("limit 1e30", "limit=1e30", "limit"),
				q("limit 2^63", "limit=9223372036854775808", "limit"),
				q("status unknown", "status=sent", "status"),
				q("status invalid UTF-8", "status=%ff", "status"),
				q("status NUL", "status=%00", "status"),
				q("from not a date", "from=yesterday", "from"),
				q("from a time", "from="+url.QueryEscape("2026-01-01T00:00:00Z"), "from"),
				q("to month 13", "to=2026-13-01", "to"),
				q("to invalid UTF-8", "to=%ff", "to"),
				q("cursor garbage", "cursor=!!", "cursor"),
				q("cursor base64 of junk", "cursor="+b64("junk"), "cursor"),
				q("cursor without id", "cursor="+b64(`{"t":"2026-01-01T00:00:00Z"}`), "cursor"),
				q("cursor with a bad time", "cursor="+b64(`{"t":"soon","id":"x"}`), "cursor"),
				q("cursor with a NUL id", "cursor="+b64(`{"t":"2026-01-01T00:00:00Z","id":"\u0000"}`), "cursor"),
				q("cursor too long", "cursor="+long(5000), "cursor"),
				q("cursor invalid UTF-8", "cursor=%ff", "cursor"),
			)
		}
		add(
			badCase{"admin orders: email NUL", "GET", "/api/v1/admin/orders?email=%00", nil, staff, 400, "email"},
			badCase{"admin orders: customer_id NUL", "GET", "/api/v1/admin/orders?customer_id=%00", nil, staff, 400, "customer_id"},
			badCase{"admin orders: email huge", "GET", "/api/v1/admin/orders?email=" + long(5000), nil, staff, 400, "email"},
			badCase{"my orders: anonymous", "GET", "/api/v1/me/orders", nil, nil, 401, ""},

			// Staff: one order.
			badCase{"admin order: unknown", "GET", "/api/v1/admin/orders/nope", nil, staff, 404, ""},
			badCase{"admin order: id invalid UTF-8", "GET", "/api/v1/admin/orders/%ff", nil, staff, 400, "id"},
			badCase{"admin order: id huge", "GET", "/api/v1/admin/orders/" + long(5000), nil, staff, 404, ""},
			badCase{"admin order: id NUL", "GET", "/api/v1/admin/orders/%00", nil, staff, 400, "id"},

			// Fulfil.
			badCase{"fulfil: no items", "POST", ord + "/fulfillments", `{}`, staff, 400, "items"},
			badCase{"fulfil: empty items", "POST", ord + "/fulfillments", `{"items":[]}`, staff, 400, "items"},
			badCase{"fulfil: items a string", "POST", ord + "/fulfillments", `{"items":"all"}`, staff, 400, "items"},
			badCase{"fulfil: 101 items", "POST", ord + "/fulfillments", map[string]any{"items": make([]map[string]any, 101)}, staff, 400, "items"},
			badCase{"fulfil: quantity 0", "POST", ord + "/fulfillments", line(paid.Items[0].ID, 0), staff, 400, "items[0].quantity"},
			badCase{"fulfil: quantity -1", "POST", ord + "/fulfillments", line(paid.Items[0].ID, -1), staff, 400, "items[0].quantity"},
			badCase{"fulfil: quantity 1e30", "POST", ord + "/fulfillments", `{"items":[{"item_id":"x","quantity":1e30}]}`, staff, 400, "items.quantity"},
			badCase{"fulfil: quantity 2^63", "POST", ord + "/fulfillments", `{"items":[{"item_id":"x","quantity":9223372036854775808}]}`, staff, 400, "items.quantity"},
			badCase{"fulfil: quantity a string", "POST", ord + "/fulfillments", line(paid.Items[0].ID, "1"), staff, 400, "items.quantity"},
			badCase{"fulfil: more than ordered", "POST", ord + "/fulfillments", line(paid.Items[0].ID, 3), staff, 400, "items[0].quantity"},
			badCase{"fulfil: twice the same line, too many", "POST", ord + "/fulfillments", `{"items":[{"item_id":"` + paid.Items[0].ID + `","quantity":2},{"item_id":"` + paid.Items[0].ID + `","quantity":1}]}`, staff, 400, "items[1].quantity"},
			badCase{"fulfil: unknown item", "POST", ord + "/fulfillments", line("nope", 1), staff, 400, "items[0].item_id"},
			badCase{"fulfil: item of another order", "POST", ord + "/fulfillments", line(shipped.Items[0].ID, 1), staff, 400, "items[0].item_id"},
			badCase{"fulfil: item id a number", "POST", ord + "/fulfillments", `{"items":[{"item_id":5,"quantity":1}]}`, staff, 400, "items.item_id"},
			badCase{"fulfil: line unknown field", "POST", ord + "/fulfillments", `{"items":[{"item_id":"x","quantity":1,"sku":"A"}]}`, staff, 400, "sku"},
			badCase{"fulfil: tracking too long", "POST", ord + "/fulfillments", `{"items":[{"item_id":"` + paid.Items[0].ID + `","quantity":1}],"tracking_number":"` + long(101) + `"}`, staff, 400, "tracking_number"},
			badCase{"fulfil: tracking NUL", "POST", ord + "/fulfillments", `{"items":[{"item_id":"` + paid.Items[0].ID + `","quantity":1}],"tracking_number":"T\u0000"}`, staff, 400, "tracking_number"},
			badCase{"fulfil: tracking a number", "POST", ord + "/fulfillments", `{"items":[{"item_id":"` + paid.Items[0].ID + `","quantity":1}],"tracking_number":5}`, staff, 400, "tracking_number"},
			badCase{"fulfil: unknown order", "POST", "/api/v1/admin/orders/nope/fulfillments", line(paid.Items[0].ID, 1), staff, 404, ""},
			badCase{"fulfil: shipped order", "POST", "/api/v1/admin/orders/" + shipped.ID + "/fulfillments", line(shipped.Items[0].ID, 1), staff, 409, ""},

			// Ship a parcel.
			badCase{"ship: no tracking", "POST", "/api/v1/admin/orders/" + shipped.ID + "/fulfillments/" + sh.Fulfillments[0].ID + "/ship", `{}`, staff, 400, "tracking_number"},
			badCase{"ship: tracking empty", "POST", "/api/v1/admin/orders/" + shipped.ID + "/fulfillments/" + sh.Fulfillments[0].ID + "/ship", `{"tracking_number":""}`, staff, 400, "tracking_number"},
			badCase{"ship: tracking too long", "POST", "/api/v1/admin/orders/" + shipped.ID + "/fulfillments/" + sh.Fulfillments[0].ID + "/ship", `{"tracking_number":"` + long(101) + `"}`, staff, 400, "tracking_number"},
			badCase{"ship: tracking NUL", "POST", "/api/v1/admin/orders/" + shipped.ID + "/fulfillments/" + sh.Fulfillments[0].ID + "/ship", `{"tracking_number":"\u0000"}`, staff, 400, "tracking_number"},
			badCase{"ship: already shipped", "POST", "/api/v1/admin/orders/" + shipped.ID + "/fulfillments/" + sh.Fulfillments[0].ID + "/ship", `{"tracking_number":"T-2"}`, staff, 409, ""},
			badCase{"ship: unknown parcel", "POST", ord + "/fulfillments/nope/ship", `{"tracking_number":"T"}`, staff, 404, ""},
			badCase{"ship: parcel of another order", "POST", ord + "/fulfillments/" + sh.Fulfillments[0].ID + "/ship", `{"tracking_number":"T"}`, staff, 404, ""},
			badCase{"ship: parcel id invalid UTF-8", "POST", ord + "/fulfillments/%ff/ship", `{"tracking_number":"T"}`, staff, 400, "fid"},
			badCase{"ship: unknown order", "POST", "/api/v1/admin/orders/nope/fulfillments/" + sh.Fulfillments[0].ID + "/ship", `{"tracking_number":"T"}`, staff, 404, ""},

			// Deliver.
			badCase{"deliver: not shipped", "POST", ord + "/deliver", nil, staff, 409, ""},
			badCase{"deliver: unknown order", "POST", "/api/v1/admin/orders/nope/deliver", nil, staff, 404, ""},
			badCase{"deliver: id invalid UTF-8", "POST", "/api/v1/admin/orders/%ff/deliver", nil, staff, 400, "id"},

			// Cancel.
			badCase{"cancel: reason too long", "POST", ord + "/cancel", map[string]any{"reason": long(501)}, staff, 400, "reason"},
			badCase{"cancel: reason a number", "POST", ord + "/cancel", `{"reason":5}`, staff, 400, "reason"},
			badCase{"cancel: reason NUL", "POST", ord + "/cancel", `{"reason":"\u0000"}`, staff, 400, "reason"},
			badCase{"cancel: fulfilled order", "POST", "/api/v1/admin/orders/" + shipped.ID + "/cancel", nil, staff, 409, ""},
			badCase{"cancel: unknown order", "POST", "/api/v1/admin/orders/nope/cancel", nil, staff, 404, ""},
			badCase{"cancel: id NUL", "POST", "/api/v1/admin/orders/%00/cancel", nil, staff, 400, "id"},

			// Refund.
			badCase{"refund: no amount", "POST", ord + "/refunds", `{}`, staff, 400, "amount"},
			badCase{"refund: amount 0", "POST", ord + "/refunds", `{"amount":0}`, staff, 400, "amount"},
			badCase{"refund: amount -1", "POST", ord + "/refunds", `{"amount":-1}`, staff, 400, "amount"},
			badCase{"refund: amount 1e30", "POST", ord + "/refunds", `{"amount":1e30}`, staff, 400, "amount"},
			badCase{"refund: amount 2^63", "POST", ord + "/refunds", `{"amount":9223372036854775808}`, staff, 400, "amount"},
			badCase{"refund: amount a fraction", "POST", ord + "/refunds", `{"amount":1.5}`, staff, 400, "amount"},
			badCase{"refund: amount a string", "POST", ord + "/refunds", `{"amount":"100"}`, staff, 400, "amount"},
			badCase{"refund: amount an object", "POST", ord + "/refunds", `{"amount":{"amount":100,"currency":"EUR"}}`, staff, 400, "amount"},
			badCase{"refund: more than paid", "POST", ord + "/refunds", map[string]any{"amount": paid.Totals.Total.Amount + 1}, staff, 400, "amount"},
			badCase{"refund: restock a string", "POST", ord + "/refunds", `{"amount":100,"restock":"yes"}`, staff, 400, "restock"},
			badCase{"refund: restock unknown item", "POST", ord + "/refunds", map[string]any{"amount": 100, "restock": true, "items": []map[string]any{{"item_id": "nope", "quantity": 1}}}, staff, 400, "items[0].item_id"},
			badCase{"refund: restock quantity 0", "POST", ord + "/refunds", map[string]any{"amount": 100, "restock": true, "items": []map[string]any{{"item_id": paid.Items[0].ID, "quantity": 0}}}, staff, 400, "items[0].quantity"},
			badCase{"refund: restock more than ordered", "POST", ord + "/refunds", map[string]any{"amount": 100, "restock": true, "items": []map[string]any{{"item_id": paid.Items[0].ID, "quantity": 3}}}, staff, 400, "items[0].quantity"},
			badCase{"refund: 101 items", "POST", ord + "/refunds", map[string]any{"amount": 100, "items": make([]map[string]any, 101)}, staff, 400, "items"},
			badCase{"refund: reason too long", "POST", ord + "/refunds", map[string]any{"amount": 100, "reason": long(501)}, staff, 400, "reason"},
			badCase{"refund: reason NUL", "POST", ord + "/refunds", `{"amount":100,"reason":"\u0000"}`, staff, 400, "reason"},
			badCase{"refund: unknown order", "POST", "/api/v1/admin/orders/nope/refunds", `{"amount":100}`, staff, 404, ""},
			badCase{"refund: id invalid UTF-8", "POST", "/api/v1/admin/orders/%ff/refunds", `{"amount":100}`, staff, 400, "id"},
		)

		// Malformed bodies on every route that takes one.
		for _, route := range []struct {
			name, method, target string
			opts                 []reqOpt
			emptyOK              bool
		}{
			{"create", "POST", "/api/v1/carts", nil, true},
			{"add", "POST", items, nil, false},
			{"patch", "PATCH", item, nil, false},
			{"checkout", "POST", co, []reqOpt{key}, false},
			{"fulfil", "POST", ord + "/fulfillments", staff, false},
			{"ship", "POST", "/api/v1/admin/orders/" + shipped.ID + "/fulfillments/" + sh.Fulfillments[0].ID + "/ship", staff, false},
			{"cancel", "POST", ord + "/cancel", staff, true},
			{"refund", "POST", ord + "/refunds", staff, false},
		} {
			for _, c := range malformedBodies(route.method, route.target, route.opts...) {
				if c.name == "empty body" && route.emptyOK {
					continue
				}
				c.name = route.name + ": " + c.name
				add(c)
			}
		}

		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				api := *api
				api.t = t
				before := dumpTables(t, db, shopTables...)
				r := api.do(c.method, c.target, c.body, c.opts...)
				if r.Code < 400 || r.Code > 499 {
					t.Fatalf("%s %s: status %d, want %d: %s", c.method, truncate([]byte(c.target)), r.Code, c.status, truncate(r.Body))
				}
				r.wantProblem(c.status, c.field)
				if after := dumpTables(t, db, shopTables...); after != before {
					t.Fatalf("the refused request changed the database: %s", firstDiff(before, after))
				}
			})
		}
	})
}
