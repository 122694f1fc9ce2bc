package app

import (
	"net/http"
	"strings"

	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/analytics"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/payment/xendit"
	"github.com/mercato-shop/mercato/internal/platform/blob"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/promotion"
	"github.com/mercato-shop/mercato/internal/shipping"
	"github.com/mercato-shop/mercato/internal/tax"
)

// route is one entry of the routing table: a pattern, who may use it and
// the handler.
type route struct {
	pattern string
	access  access
	handler http.Handler
}

// access is a route's authorization rule. Every route declares one: the
// authorization matrix (authz_test.go) sends every route a request as an
// anonymous visitor, customer A, customer B (on A's objects), staff and an
// admin and checks each answer against it, and the OpenAPI test checks that
// each documented operation's security says the same.
//
// For JSON routes (under /api/) Handler enforces the role part of the rule
// (accessCustomer, accessStaff, accessAdmin) before the handler runs; the
// handlers enforce ownership. Pages enforce their rules themselves: the
// storefront and the admin panel send visitors without the role to their
// sign-in pages instead of answering 401 or 403.
type access string

const (
	// accessPublic: anyone, signed in or not.
	accessPublic access = "public"
	// accessCustomer: any signed-in account (bearer token or session
	// cookie), on its own objects only: another account's object is 404,
	// as if it did not exist. Anonymous: 401, or the sign-in page.
	accessCustomer access = "customer"
	// accessStaff: staff and admin accounts; customers 403. The JSON routes
	// (/api/v1/admin/) take a bearer token only: the session cookie is the
	// admin panel's, and a request that has nothing else is 401. The admin
	// panel's pages take the cookie and send anyone else to sign in.
	accessStaff access = "staff"
	// accessAdmin: accessStaff for the admin role only; staff 403.
	accessAdmin access = "admin"
	// accessCart: the cart's customer; for a guest cart, whoever holds its
	// id (128 random bits: the id is a bearer credential). Anyone else
	// gets 404, as for an unknown cart. Storefront pages use the visitor's
	// own cart (its cookie or the signed-in customer's), never another's.
	accessCart access = "guest-cart-token"
	// accessOrder: the order's customer, staff, or a guest holding the
	// order's access token; anyone else 404.
	accessOrder access = "order-token"
	// accessWebhook: the payment provider, proven by a signature over the
	// body (400 without a valid one); accounts play no part.
	accessWebhook access = "webhook-signature"
	// accessMetrics: public, unless MERCATO_METRICS_TOKEN is set; then only
	// "Authorization: Bearer <that token>" (the route reads the header
	// itself: an account's token does not open it, and a bad one is not an
	// account's failed sign-in).
	accessMetrics access = "metrics-token"
)

// errAdminAPICookie refuses the admin panel's session cookie on the admin
// JSON API, which is for programs holding a bearer token.
var errAdminAPICookie = apperr.New(apperr.Unauthorized,
	"the admin API takes a bearer token (Authorization: Bearer mct_…); the session cookie is only for the admin panel")

// guard enforces the role part of a JSON route's access rule before its
// handler runs (see access). Other routes are returned as they are.
func (a *App) guard(rt route) http.Handler {
	_, path, _ := strings.Cut(rt.pattern, " ")
	if !strings.HasPrefix(path, "/api/") {
		return rt.handler
	}
	var check func(p auth.Principal, signedIn bool) error
	switch rt.access {
	case accessCustomer:
		check = func(p auth.Principal, signedIn bool) error {
			if !signedIn {
				return auth.ErrUnauthenticated
			}
			return nil
		}
	case accessStaff, accessAdmin:
		check = func(p auth.Principal, signedIn bool) error {
			switch {
			case !signedIn:
				return auth.ErrUnauthenticated
			case p.ViaCookie:
				return errAdminAPICookie
			case !p.Role.IsStaff():
				return auth.ErrForbidden
			case rt.access == accessAdmin && p.Role != auth.RoleAdmin:
				return apperr.New(apperr.Forbidden, "admin role required")
			}
			return nil
		}
	default:
		return rt.handler
	}
	return web.Handle(a.Log, func(w http.ResponseWriter, r *http.Request) error {
		p, signedIn := auth.From(r.Context())
		if err := check(p, signedIn); err != nil {
			return err
		}
		rt.handler.ServeHTTP(w, r)
		return nil
	})
}

// routes is the one list of every route Mercato serves.
func (a *App) routes() []route {
	h := func(f web.HandlerFunc) http.Handler { return web.Handle(a.Log, f) }
	cat, inv, cust := a.Catalog, a.Inventory, a.Customers
	return []route{
		// Operations.
		{"GET /healthz", accessPublic, http.HandlerFunc(handleHealthz)},
		{"GET /readyz", accessPublic, h(a.handleReadyz)},
		{"GET /metrics", accessMetrics, a.handleMetrics()}, // MERCATO_METRICS_TOKEN; reads Authorization itself (ownsAuthorization)
		{"GET /api/v1/openapi.json", accessPublic, h(handleOpenAPI)},

		// Catalog, public.
		{"GET /api/v1/products", accessPublic, h(catalog.HandleListProducts(cat))},
		{"GET /api/v1/products/{id}", accessPublic, h(catalog.HandleGetProduct(cat))},
		{"GET /api/v1/categories", accessPublic, h(catalog.HandleListCategories(cat))},
		{"GET /media/{key...}", accessPublic, h(blob.HandleGet(a.Blob))},

		// Identity. Signing up or in with a "cart_id" claims that guest cart (customer.LoginHook).
		{"POST /api/v1/auth/register", accessPublic, h(customer.HandleRegister(cust, a.Carts.Claim))},
		{"POST /api/v1/auth/login", accessPublic, h(customer.HandleLogin(cust, a.Carts.Claim))},
		{"POST /api/v1/auth/logout", accessPublic, h(customer.HandleLogout(cust))},
		// Account recovery and e-mail verification: links mailed to the holder (customer.PasswordResetTTL, ...).
		{"POST /api/v1/auth/password-reset", accessPublic, h(customer.HandlePasswordReset(cust))},
		{"POST /api/v1/auth/password-reset/confirm", accessPublic, h(customer.HandlePasswordResetConfirm(cust))},
		{"POST /api/v1/auth/verify-email", accessPublic, h(customer.HandleVerifyEmail(cust))},
		{"POST /api/v1/auth/email-change/confirm", accessPublic, h(customer.HandleConfirmEmailChange(cust))},
		{"POST /api/v1/me/email-verification", accessCustomer, h(customer.HandleResendVerification(cust))},
		{"POST /api/v1/me/email-change", accessCustomer, h(customer.HandleRequestEmailChange(cust))},
		{"GET /api/v1/me", accessCustomer, h(customer.HandleGetMe(cust))},
		{"PATCH /api/v1/me", accessCustomer, h(customer.HandleUpdateMe(cust))},
		{"GET /api/v1/me/addresses", accessCustomer, h(customer.HandleListAddresses(cust))},
		{"POST /api/v1/me/addresses", accessCustomer, h(customer.HandleCreateAddress(cust))},
		{"PATCH /api/v1/me/addresses/{id}", accessCustomer, h(customer.HandleUpdateAddress(cust))},
		{"DELETE /api/v1/me/addresses/{id}", accessCustomer, h(customer.HandleDeleteAddress(cust))},

		// Staff: customers; admins: staff accounts.
		{"GET /api/v1/admin/customers", accessStaff, h(customer.HandleAdminListCustomers(cust))},
		{"GET /api/v1/admin/customers/{id}", accessStaff, h(customer.HandleAdminGetCustomer(cust))},
		{"GET /api/v1/admin/staff", accessAdmin, h(customer.HandleListStaff(cust))},
		{"POST /api/v1/admin/staff", accessAdmin, h(customer.HandleCreateStaff(cust))},
		{"PATCH /api/v1/admin/staff/{id}", accessAdmin, h(customer.HandleUpdateStaff(cust))},

		// Staff: catalog and inventory.
		{"GET /api/v1/admin/products", accessStaff, h(catalog.HandleAdminListProducts(cat))},
		{"POST /api/v1/admin/products", accessStaff, h(catalog.HandleCreateProduct(cat))},
		{"GET /api/v1/admin/products/{id}", accessStaff, h(catalog.HandleAdminGetProduct(cat))},
		{"PATCH /api/v1/admin/products/{id}", accessStaff, h(catalog.HandleUpdateProduct(cat))},
		{"DELETE /api/v1/admin/products/{id}", accessStaff, h(catalog.HandleArchiveProduct(cat))},
		{"POST /api/v1/admin/categories", accessStaff, h(catalog.HandleCreateCategory(cat))},
		{"GET /api/v1/admin/inventory/low-stock", accessStaff, h(inventory.HandleLowStock(inv))},
		{"GET /api/v1/admin/inventory/{sku}", accessStaff, h(inventory.HandleGet(inv))},
		{"PUT /api/v1/admin/inventory/{sku}", accessStaff, h(inventory.HandleSet(inv))},
		{"POST /api/v1/admin/inventory/{sku}/adjustments", accessStaff, h(inventory.HandleAdjust(inv))},
		{"GET /api/v1/admin/inventory/{sku}/movements", accessStaff, h(inventory.HandleMovements(inv))},

		// Carts, checkout and orders.
		{"POST /api/v1/carts", accessPublic, h(cart.HandleCreate(a.Carts, a.Affiliates))}, // referred by {"referral_code"} or the ref cookie
		{"GET /api/v1/carts/{id}", accessCart, h(cart.HandleGet(a.Carts))},
		{"POST /api/v1/carts/{id}/items", accessCart, h(cart.HandleAddItem(a.Carts))},
		{"PATCH /api/v1/carts/{id}/items/{item_id}", accessCart, h(cart.HandleUpdateItem(a.Carts))},
		{"DELETE /api/v1/carts/{id}/items/{item_id}", accessCart, h(cart.HandleRemoveItem(a.Carts))},
		{"POST /api/v1/carts/{id}/discounts", accessCart, h(cart.HandleApplyCode(a.Carts))},
		{"DELETE /api/v1/carts/{id}/discounts/{code}", accessCart, h(cart.HandleRemoveCode(a.Carts))},
		{"GET /api/v1/shipping-methods", accessCart, h(cart.HandleShippingMethods(a.Carts))},
		{"GET /api/v1/payment-methods", accessCart, h(payment.HandleMethods(a.Payments, a.Carts))},
		{"POST /api/v1/carts/{id}/checkout", accessCart, h(checkout.HandleCheckout(a.Checkout, a.allowCheckout))},
		{"GET /api/v1/orders/{id}", accessOrder, h(order.HandleGet(a.Orders))},
		{"POST /api/v1/payments/webhook", accessWebhook, h(payment.HandleWebhookRequest(a.Payments))},
		{"POST /api/v1/payments/{provider}/webhook", accessWebhook, h(payment.HandleProviderWebhook(a.Payments))},
		{"POST /api/v1/payments/xendit/callback", accessWebhook, h(payment.HandleWebhookOf(a.Payments, xendit.Name))},
		{"GET /api/v1/me/orders", accessCustomer, h(order.HandleMine(a.Orders))},

		// Gift cards: on a cart (its holder), the balance check (anyone; look-ups limited per address), staff.
		{"POST /api/v1/carts/{id}/gift-cards", accessCart, h(giftcard.HandleApply(a.GiftCards, giftCardCarts{a.Carts}, giftCardClient))},
		{"DELETE /api/v1/carts/{id}/gift-cards/{code}", accessCart, h(giftcard.HandleRemove(a.GiftCards, giftCardCarts{a.Carts}))},
		{"GET /api/v1/gift-cards/{code}", accessPublic, h(giftcard.HandleBalance(a.GiftCards, giftCardClient))},
		{"GET /api/v1/admin/gift-cards", accessStaff, h(giftcard.HandleAdminList(a.GiftCards))},
		{"POST /api/v1/admin/gift-cards", accessStaff, h(giftcard.HandleAdminIssue(a.GiftCards))},
		{"GET /api/v1/admin/gift-cards/{id}", accessStaff, h(giftcard.HandleAdminGet(a.GiftCards))},
		{"POST /api/v1/admin/gift-cards/{id}/disable", accessStaff, h(giftcard.HandleAdminDisable(a.GiftCards))},
		{"POST /api/v1/admin/gift-cards/{id}/adjustments", accessStaff, h(giftcard.HandleAdminAdjust(a.GiftCards))},

		// Staff: orders.
		{"GET /api/v1/admin/orders", accessStaff, h(order.HandleAdminList(a.Orders))},
		{"GET /api/v1/admin/orders/{id}", accessStaff, h(order.HandleAdminGet(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/fulfillments", accessStaff, h(order.HandleFulfill(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/fulfillments/{fid}/ship", accessStaff, h(order.HandleShip(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/deliver", accessStaff, h(order.HandleDeliver(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/cancel", accessStaff, h(order.HandleCancel(a.Orders))},
		{"POST /api/v1/admin/orders/{id}/refunds", accessStaff, h(order.HandleRefund(a.Orders))},

		// Staff: promotions (discount codes and automatic promotions), with their usage.
		{"GET /api/v1/admin/promotions", accessStaff, h(promotion.HandleList(a.Promotions))},
		{"POST /api/v1/admin/promotions", accessStaff, h(promotion.HandleCreate(a.Promotions))},
		{"GET /api/v1/admin/promotions/{id}", accessStaff, h(promotion.HandleGet(a.Promotions))},
		{"PATCH /api/v1/admin/promotions/{id}", accessStaff, h(promotion.HandleUpdate(a.Promotions))},
		{"DELETE /api/v1/admin/promotions/{id}", accessStaff, h(promotion.HandleDelete(a.Promotions))},

		// Staff: shipping zones and tax rates.
		{"GET /api/v1/admin/shipping/zones", accessStaff, h(shipping.HandleListZones(a.Shipping))},
		{"POST /api/v1/admin/shipping/zones", accessStaff, h(shipping.HandleCreateZone(a.Shipping))},
		{"PUT /api/v1/admin/shipping/zones/{id}", accessStaff, h(shipping.HandleReplaceZone(a.Shipping))},
		{"DELETE /api/v1/admin/shipping/zones/{id}", accessStaff, h(shipping.HandleDeleteZone(a.Shipping))},
		{"GET /api/v1/admin/tax/rates", accessStaff, h(tax.HandleListRates(a.Tax))},
		{"PUT /api/v1/admin/tax/rates/{country}", accessStaff, h(tax.HandleSetRate(a.Tax))},

		// Staff: e-mails, alerts and sales figures made from domain events.
		{"GET /api/v1/admin/emails", accessStaff, h(notify.HandleListEmails(a.Notify))},
		{"GET /api/v1/admin/emails/{id}", accessStaff, h(notify.HandleGetEmail(a.Notify))},
		{"GET /api/v1/admin/emails/{id}/html", accessStaff, h(notify.HandleEmailHTML(a.Notify))},
		{"POST /api/v1/admin/emails/{id}/resend", accessStaff, h(notify.HandleResendEmail(a.Notify))},
		{"GET /api/v1/admin/alerts/low-stock", accessStaff, h(notify.HandleListLowStockAlerts(a.Notify))},
		{"GET /api/v1/admin/analytics/sales", accessStaff, h(analytics.HandleSales(a.Analytics))},

		// Affiliate programme: customers apply; staff decide, set commissions, record payouts.
		{"POST /api/v1/me/affiliate", accessCustomer, h(affiliate.HandleApply(a.Affiliates))},
		{"GET /api/v1/me/affiliate", accessCustomer, h(affiliate.HandleMine(a.Affiliates))},
		{"GET /api/v1/admin/affiliates", accessStaff, h(affiliate.HandleAdminList(a.Affiliates))},
		{"GET /api/v1/admin/affiliates/export.csv", accessStaff, h(affiliate.HandleExport(a.Affiliates))},
		{"PATCH /api/v1/admin/affiliates/{id}", accessStaff, h(affiliate.HandleAdminUpdate(a.Affiliates))},
		{"GET /api/v1/admin/affiliates/{id}/payouts", accessStaff, h(affiliate.HandlePayouts(a.Affiliates))},
		{"POST /api/v1/admin/affiliates/{id}/payouts", accessStaff, h(affiliate.HandlePayout(a.Affiliates))},

		// Admin panel: staff HTML pages, by the session cookie (each checks the role; POSTs refuse cross-origin requests).
		{"GET /admin/static/{file}", accessPublic, a.Admin.Static()},
		{"GET /admin/login", accessPublic, a.Admin.LoginPage()},
		{"POST /admin/login", accessPublic, a.Admin.Login()},
		{"POST /admin/logout", accessPublic, a.Admin.Logout()},
		{"GET /admin", accessStaff, a.Admin.Dashboard()},
		{"GET /admin/{$}", accessStaff, a.Admin.Dashboard()},
		{"GET /admin/orders", accessStaff, a.Admin.Orders()},
		{"GET /admin/orders/{id}", accessStaff, a.Admin.OrderDetail()},
		{"POST /admin/orders/{id}/fulfil", accessStaff, a.Admin.Fulfil()},
		{"POST /admin/orders/{id}/ship", accessStaff, a.Admin.Ship()},
		{"POST /admin/orders/{id}/deliver", accessStaff, a.Admin.Deliver()},
		{"POST /admin/orders/{id}/cancel", accessStaff, a.Admin.Cancel()},
		{"POST /admin/orders/{id}/refund", accessStaff, a.Admin.Refund()},
		{"GET /admin/products", accessStaff, a.Admin.Products()},
		{"GET /admin/products/new", accessStaff, a.Admin.NewProduct()},
		{"POST /admin/products", accessStaff, a.Admin.CreateProduct()},
		{"GET /admin/products/{id}", accessStaff, a.Admin.EditProduct()},
		{"POST /admin/products/{id}", accessStaff, a.Admin.UpdateProduct()},
		{"POST /admin/products/{id}/archive", accessStaff, a.Admin.ArchiveProduct()},
		{"GET /admin/inventory", accessStaff, a.Admin.InventoryIndex()},
		{"GET /admin/inventory/{sku}", accessStaff, a.Admin.Stock()},
		{"POST /admin/inventory/{sku}/adjust", accessStaff, a.Admin.AdjustStock()},
		{"POST /admin/inventory/{sku}/set", accessStaff, a.Admin.SetStock()},
		{"GET /admin/promotions", accessStaff, a.Admin.Promotions()},
		{"GET /admin/promotions/new", accessStaff, a.Admin.NewPromotion()},
		{"POST /admin/promotions", accessStaff, a.Admin.CreatePromotion()},
		{"GET /admin/promotions/{id}", accessStaff, a.Admin.EditPromotion()},
		{"POST /admin/promotions/{id}", accessStaff, a.Admin.UpdatePromotion()},
		{"POST /admin/promotions/{id}/delete", accessStaff, a.Admin.DeletePromotion()},
		{"GET /admin/customers", accessStaff, a.Admin.Customers()},
		{"GET /admin/customers/{id}", accessStaff, a.Admin.CustomerDetail()},
		{"GET /admin/staff", accessAdmin, a.Admin.Staff()},
		{"POST /admin/staff", accessAdmin, a.Admin.CreateStaff()},
		{"POST /admin/staff/{id}/role", accessAdmin, a.Admin.SetStaffRole()},
		{"GET /admin/gift-cards", accessStaff, a.Admin.GiftCards()},
		{"GET /admin/gift-cards/new", accessStaff, a.Admin.NewGiftCard()},
		{"POST /admin/gift-cards", accessStaff, a.Admin.IssueGiftCard()},
		{"GET /admin/gift-cards/{id}", accessStaff, a.Admin.GiftCard()},
		{"POST /admin/gift-cards/{id}/disable", accessStaff, a.Admin.DisableGiftCard()},
		{"POST /admin/gift-cards/{id}/adjust", accessStaff, a.Admin.AdjustGiftCard()},
		{"GET /admin/emails", accessStaff, a.Admin.Emails()},
		{"GET /admin/emails/{id}", accessStaff, a.Admin.Email()},
		{"GET /admin/emails/{id}/html", accessStaff, a.Admin.EmailHTML()},
		{"POST /admin/emails/{id}/resend", accessStaff, a.Admin.Resend()},
		{"GET /admin/affiliates", accessStaff, a.Admin.Affiliates()},
		{"GET /admin/affiliates.csv", accessStaff, a.Admin.AffiliatesCSV()},
		{"POST /admin/affiliates/{id}", accessStaff, a.Admin.UpdateAffiliate()},
		{"POST /admin/affiliates/{id}/payouts", accessStaff, a.Admin.PayAffiliate()},

		// Storefront: HTML pages for browsers, not part of the REST API.
		{"GET /static/{file}", accessPublic, a.Storefront.Assets()},
		{"GET /{$}", accessPublic, a.Storefront.Home()},
		{"GET /c/{slug}", accessPublic, a.Storefront.Category()},
		{"GET /p/{slug}", accessPublic, a.Storefront.Product()},
		{"GET /search", accessPublic, a.Storefront.Search()},
		{"GET /sitemap.xml", accessPublic, a.Storefront.Sitemap()},
		{"GET /robots.txt", accessPublic, a.Storefront.Robots()},
		{"GET /cart", accessCart, a.Storefront.Cart()},
		{"POST /cart/items", accessCart, a.Storefront.AddToCart()},
		{"POST /cart/items/{id}", accessCart, a.Storefront.UpdateCartItem()},
		{"POST /cart/discounts", accessCart, a.Storefront.ApplyCode()},
		{"POST /cart/discounts/{code}/delete", accessCart, a.Storefront.RemoveCode()},
		{"GET /cart/restore/{token}", accessPublic, a.Storefront.RestoreCart()},
		{"GET /checkout", accessCart, a.Storefront.Checkout()},
		{"POST /checkout", accessCart, a.Storefront.PlaceOrder()},
		{"GET /orders/{id}", accessOrder, a.Storefront.Order()},
		{"GET /orders/{id}/pay", accessOrder, a.Storefront.ContinuePayment()},
		{"GET /account", accessCustomer, a.Storefront.Account()},
		{"GET /account/login", accessPublic, a.Storefront.SignInPage()},
		{"POST /account/login", accessPublic, a.Storefront.SignIn()},
		{"GET /account/password-reset", accessPublic, a.Storefront.PasswordResetPage()},
		{"POST /account/password-reset", accessPublic, a.Storefront.RequestPasswordReset()},
		{"GET /account/password-reset/confirm", accessPublic, a.Storefront.NewPasswordPage()},
		{"POST /account/password-reset/confirm", accessPublic, a.Storefront.ResetPassword()},
		{"GET /account/verify-email", accessPublic, a.Storefront.VerifyEmailPage()},
		{"POST /account/verify-email", accessPublic, a.Storefront.VerifyEmail()},
		{"POST /account/verify-email/resend", accessCustomer, a.Storefront.ResendVerification()},
		{"GET /account/email", accessCustomer, a.Storefront.EmailChangePage()},
		{"POST /account/email", accessCustomer, a.Storefront.RequestEmailChange()},
		{"GET /account/email-change/confirm", accessPublic, a.Storefront.EmailChangeConfirmPage()},
		{"POST /account/email-change/confirm", accessPublic, a.Storefront.ConfirmEmailChange()},
		{"GET /account/register", accessPublic, a.Storefront.RegisterPage()},
		{"POST /account/register", accessPublic, a.Storefront.Register()},
		{"POST /account/logout", accessPublic, a.Storefront.SignOut()},
		{"GET /account/orders", accessCustomer, a.Storefront.AccountOrders()},
		{"GET /account/orders/{id}", accessCustomer, a.Storefront.AccountOrder()},
		{"GET /account/addresses", accessCustomer, a.Storefront.Addresses()},
		{"POST /account/addresses", accessCustomer, a.Storefront.AddAddress()},
		{"POST /account/addresses/{id}/delete", accessCustomer, a.Storefront.DeleteAddress()},
		{"GET /unsubscribe/{token}", accessPublic, a.Storefront.UnsubscribePage()},
		{"POST /unsubscribe/{token}", accessPublic, a.Storefront.Unsubscribe()},
		{"GET /account/affiliate", accessCustomer, a.Storefront.AffiliatePage()},
		{"POST /account/affiliate", accessCustomer, a.Storefront.ApplyAffiliate()},
		{"/", accessPublic, a.Storefront.NotFound()}, // any other path: the HTML 404 page (/api/ keeps its problem+json 404)
	}
}

// Handler returns the whole HTTP handler: routes, authentication, metrics,
// security headers and panic recovery.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux() // routes behind customer.Authenticate
	own := http.NewServeMux() // routes that read Authorization themselves, by path
	ownPaths := map[string]bool{}
	for _, rt := range a.routes() {
		h := a.Metrics.Route(rt.pattern, web.CheckText(a.Log, a.guard(rt)))
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
	// ?ref= links and the referral cookie (affiliate.Track) are followed
	// after authentication, which names the client and the account.
	track := affiliate.Track(a.Affiliates, affiliate.TrackOptions{ClientIP: clientIP, CartOf: a.Storefront.VisitorCart, Log: a.Log}, mux)
	authenticated := customer.Authenticate(a.Customers, writeErr, track)
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ownPaths[r.URL.Path] {
			own.ServeHTTP(w, r) // another method: 405
			return
		}
		authenticated.ServeHTTP(w, r)
	})
	return web.TrustForwardedProto(a.Config.TrustedProxies, web.Observe(a.Log, web.Routed(mux, a.withRelayNotifier(routed))))
}
