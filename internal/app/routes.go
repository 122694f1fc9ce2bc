package app

import (
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"net/http"
	"strings"

	"github.com/mercato-shop/mercato/internal/analytics"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/blob"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/shipping"
	"github.com/mercato-shop/mercato/internal/tax"
)

// route is one entry of the routing table.
type route struct {
	pattern string
	handler http.Handler
}

// routes is the one list of every route Mercato serves.
func (a *App) routes() []route {
	h := func(f web.HandlerFunc) http.Handler { return web.Handle(a.Log, f) }
	staff := func(f web.HandlerFunc) http.Handler {
		return web.Handle(a.Log, func(w http.ResponseWriter, r *http.Request) error {
			if _, err := auth.RequireStaff(r.Context()); err != nil {
				return err
			}
			return f(w, r)
		})
	}
	cat, inv, cust := a.Catalog, a.Inventory, a.Customers
	return []route{
		// Operations.
		{"GET /healthz", http.HandlerFunc(handleHealthz)},
		{"GET /readyz", h(a.handleReadyz)},
		{"GET /metrics", a.handleMetrics()}, // MERCATO_METRICS_TOKEN; reads Authorization itself (ownsAuthorization)
		{"GET /api/v1/openapi.json", h(handleOpenAPI)},

		// Catalog, public.
		{"GET /api/v1/products", h(catalog.HandleListProducts(cat))},
		{"GET /api/v1/products/{id}", h(catalog.HandleGetProduct(cat))},
		{"GET /api/v1/categories", h(catalog.HandleListCategories(cat))},
		{"GET /media/{key...}", h(blob.HandleGet(a.Blob))},

		// Identity. Signing up or in with a "cart_id" claims that guest cart (customer.LoginHook).
		{"POST /api/v1/auth/register", h(customer.HandleRegister(cust, a.Carts.Claim))},
		{"POST /api/v1/auth/login", h(customer.HandleLogin(cust, a.Carts.Claim))},
		{"POST /api/v1/auth/logout", h(customer.HandleLogout(cust))},
		{"GET /api/v1/me", h(customer.HandleGetMe(cust))},
		{"PATCH /api/v1/me", h(customer.HandleUpdateMe(cust))},
		{"GET /api/v1/me/addresses", h(customer.HandleListAddresses(cust))},
		{"POST /api/v1/me/addresses", h(customer.HandleCreateAddress(cust))},
		{"PATCH /api/v1/me/addresses/{id}", h(customer.HandleUpdateAddress(cust))},
		{"DELETE /api/v1/me/addresses/{id}", h(customer.HandleDeleteAddress(cust))},

		// Staff: customers; admins: staff accounts (those handlers check the admin role).
		{"GET /api/v1/admin/customers", staff(customer.HandleAdminListCustomers(cust))},
		{"GET /api/v1/admin/customers/{id}", staff(customer.HandleAdminGetCustomer(cust))},
		{"GET /api/v1/admin/staff", staff(customer.HandleListStaff(cust))},
		{"POST /api/v1/admin/staff", staff(customer.HandleCreateStaff(cust))},
		{"PATCH /api/v1/admin/staff/{id}", staff(customer.HandleUpdateStaff(cust))},

		// Staff: catalog and inventory.
		{"GET /api/v1/admin/products", staff(catalog.HandleAdminListProducts(cat))},
		{"POST /api/v1/admin/products", staff(catalog.HandleCreateProduct(cat))},
		{"GET /api/v1/admin/products/{id}", staff(catalog.HandleAdminGetProduct(cat))},
		{"PATCH /api/v1/admin/products/{id}", staff(catalog.HandleUpdateProduct(cat))},
		{"DELETE /api/v1/admin/products/{id}", staff(catalog.HandleArchiveProduct(cat))},
		{"POST /api/v1/admin/categories", staff(catalog.HandleCreateCategory(cat))},
		{"GET /api/v1/admin/inventory/low-stock", staff(inventory.HandleLowStock(inv))},
		{"GET /api/v1/admin/inventory/{sku}", staff(inventory.HandleGet(inv))},
		{"PUT /api/v1/admin/inventory/{sku}", staff(inventory.HandleSet(inv))},
		{"POST /api/v1/admin/inventory/{sku}/adjustments", staff(inventory.HandleAdjust(inv))},
		{"GET /api/v1/admin/inventory/{sku}/movements", staff(inventory.HandleMovements(inv))},

		// Carts, checkout and orders.
		{"POST /api/v1/carts", h(cart.HandleCreate(a.Carts))},
		{"GET /api/v1/carts/{id}", h(cart.HandleGet(a.Carts))},
		{"POST /api/v1/carts/{id}/items", h(cart.HandleAddItem(a.Carts))},
		{"PATCH /api/v1/carts/{id}/items/{item_id}", h(cart.HandleUpdateItem(a.Carts))},
		{"DELETE /api/v1/carts/{id}/items/{item_id}", h(cart.HandleRemoveItem(a.Carts))},
		{"GET /api/v1/shipping-methods", h(cart.HandleShippingMethods(a.Carts))},
		{"POST /api/v1/carts/{id}/checkout", h(checkout.HandleCheckout(a.Checkout, a.allowCheckout))},
		{"GET /api/v1/orders/{id}", h(order.HandleGet(a.Orders))},
		{"POST /api/v1/payments/webhook", h(payment.HandleWebhookRequest(a.Payments))},
		{"GET /api/v1/me/orders", h(order.HandleMine(a.Orders))},

		// Staff: orders.
		{"GET /api/v1/admin/orders", staff(order.HandleAdminList(a.Orders))},
		{"GET /api/v1/admin/orders/{id}", staff(order.HandleAdminGet(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/fulfillments", staff(order.HandleFulfill(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/fulfillments/{fid}/ship", staff(order.HandleShip(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/deliver", staff(order.HandleDeliver(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/cancel", staff(order.HandleCancel(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/refunds", staff(order.HandleRefund(a.Orders))},

		// Staff: shipping zones and tax rates.
		{"GET /api/v1/admin/shipping/zones", staff(shipping.HandleListZones(a.Shipping))},
		{"POST /api/v1/admin/shipping/zones", staff(shipping.HandleCreateZone(a.Shipping))},
		{"PUT /api/v1/admin/shipping/zones/{id}", staff(shipping.HandleReplaceZone(a.Shipping))},
		{"DELETE /api/v1/admin/shipping/zones/{id}", staff(shipping.HandleDeleteZone(a.Shipping))},
		{"GET /api/v1/admin/tax/rates", staff(tax.HandleListRates(a.Tax))},
		{"PUT /api/v1/admin/tax/rates/{country}", staff(tax.HandleSetRate(a.Tax))},

		// Staff: e-mails, alerts and sales figures made from domain events.
		{"GET /api/v1/admin/emails", staff(notify.HandleListEmails(a.Notify))},
		{"GET /api/v1/admin/emails/{id}", staff(notify.HandleGetEmail(a.Notify))},
		{"GET /api/v1/admin/emails/{id}/html", staff(notify.HandleEmailHTML(a.Notify))},
		{"GET /api/v1/admin/alerts/low-stock", staff(notify.HandleListLowStockAlerts(a.Notify))},
		{"GET /api/v1/admin/analytics/sales", staff(analytics.HandleSales(a.Analytics))},

		// Admin panel: staff HTML pages (each checks the role; POSTs refuse cross-origin requests).
		{"GET /admin/static/{file}", a.Admin.Static()},
		{"GET /admin/login", a.Admin.LoginPage()},
		{"POST /admin/login", a.Admin.Login()},
		{"POST /admin/logout", a.Admin.Logout()},
		{"GET /admin", a.Admin.Dashboard()},
		{"GET /admin/{$}", a.Admin.Dashboard()},
		{"GET /admin/orders", a.Admin.Orders()},
		{"GET /admin/orders/{id}", a.Admin.OrderDetail()},
		{"POST /admin/orders/{id}/fulfil", a.Admin.Fulfil()},
		{"POST /admin/orders/{id}/ship", a.Admin.Ship()},
		{"POST /admin/orders/{id}/deliver", a.Admin.Deliver()},
		{"POST /admin/orders/{id}/cancel", a.Admin.Cancel()},
		{"POST /admin/orders/{id}/refund", a.Admin.Refund()},
		{"GET /admin/products", a.Admin.Products()},
		{"GET /admin/products/new", a.Admin.NewProduct()},
		{"POST /admin/products", a.Admin.CreateProduct()},
		{"GET /admin/products/{id}", a.Admin.EditProduct()},
		{"POST /admin/products/{id}", a.Admin.UpdateProduct()},
		{"POST /admin/products/{id}/archive", a.Admin.ArchiveProduct()},
		{"GET /admin/inventory", a.Admin.InventoryIndex()},
		{"GET /admin/inventory/{sku}", a.Admin.Stock()},
		{"POST /admin/inventory/{sku}/adjust", a.Admin.AdjustStock()},
		{"POST /admin/inventory/{sku}/set", a.Admin.SetStock()},
		{"GET /admin/customers", a.Admin.Customers()},
		{"GET /admin/customers/{id}", a.Admin.CustomerDetail()},
		{"GET /admin/staff", a.Admin.Staff()},
		{"POST /admin/staff", a.Admin.CreateStaff()},
		{"POST /admin/staff/{id}/role", a.Admin.SetStaffRole()},
		{"GET /admin/emails", a.Admin.Emails()},
		{"GET /admin/emails/{id}", a.Admin.Email()},

		// Storefront: HTML pages for browsers, not part of the REST API.
		{"GET /static/{file}", a.Storefront.Assets()},
		{"GET /{$}", a.Storefront.Home()},
		{"GET /c/{slug}", a.Storefront.Category()},
		{"GET /p/{slug}", a.Storefront.Product()},
		{"GET /search", a.Storefront.Search()},
		{"GET /sitemap.xml", a.Storefront.Sitemap()},
		{"GET /robots.txt", a.Storefront.Robots()},
		{"GET /cart", a.Storefront.Cart()},
		{"POST /cart/items", a.Storefront.AddToCart()},
		{"POST /cart/items/{id}", a.Storefront.UpdateCartItem()},
		{"GET /checkout", a.Storefront.Checkout()},
		{"POST /checkout", a.Storefront.PlaceOrder()},
		{"GET /orders/{id}", a.Storefront.Order()},
		{"GET /account", a.Storefront.Account()},
		{"GET /account/login", a.Storefront.SignInPage()},
		{"POST /account/login", a.Storefront.SignIn()},
		{"GET /account/register", a.Storefront.RegisterPage()},
		{"POST /account/register", a.Storefront.Register()},
		{"POST /account/logout", a.Storefront.SignOut()},
		{"GET /account/orders", a.Storefront.AccountOrders()},
		{"GET /account/orders/{id}", a.Storefront.AccountOrder()},
		{"GET /account/addresses", a.Storefront.Addresses()},
		{"POST /account/addresses", a.Storefront.AddAddress()},
		{"POST /account/addresses/{id}/delete", a.Storefront.DeleteAddress()},
		{"/", a.Storefront.NotFound()}, // any other path: the HTML 404 page (/api/ keeps its problem+json 404)
	}
}

// Handler returns the whole HTTP handler: routes, authentication, metrics,
// security headers and panic recovery.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux() // routes behind customer.Authenticate
	own := http.NewServeMux() // routes that read Authorization themselves, by path
	ownPaths := map[string]bool{}
	for _, rt := range a.routes() {
		h := a.Metrics.Route(rt.pattern, web.CheckText(a.Log, rt.handler))
		if ownsAuthorization(rt.pattern) {
			own.Handle(rt.pattern, h)
			_, path, _ := strings.Cut(rt.pattern, " ")
			ownPaths[path] = true
			continue
		}
		mux.Handle(rt.pattern, h)
	}
	mux.Handle("/api/", web.Handle(a.Log, func(w http.ResponseWriter, r *http.Request) error {
		return errNoRoute
	}))
	writeErr := func(w http.ResponseWriter, r *http.Request, err error) { web.Error(w, r, a.Log, err) }
	authenticated := customer.Authenticate(a.Customers, writeErr, mux)
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ownPaths[r.URL.Path] {
			own.ServeHTTP(w, r) // another method: 405
			return
		}
		authenticated.ServeHTTP(w, r)
	})
	return web.TrustForwardedProto(a.Config.TrustedProxies, web.Observe(a.Log, a.withRelayNotifier(routed)))
}
