package storefront

import (
	"context"
	"net/http"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/ui"
)

// Mailing is what the unsubscribe page needs of the notify module.
type Mailing interface {
	Subscription(ctx context.Context, token string) (notify.Subscription, error)
	Unsubscribe(ctx context.Context, token string) (notify.Subscription, error)
}

// RestoreCart serves GET /cart/restore/{token}, the link of an
// abandoned-cart reminder. The token names the cart without being its id;
// the cart still belongs to its customer: the owner, signed in, goes to
// the cart; anyone else is asked to sign in (the cart cookie is set, and
// signing in as the owner makes it the current cart). A token whose cart
// was checked out or is gone leads to the cart page with a message.
func (s *Storefront) RestoreCart() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		rc, err := s.svc.Carts.Restore(r.Context(), r.PathValue("token"))
		if apperr.Is(err, apperr.NotFound) {
			s.flash.Set(w, r, ui.Flash{Error: true, Text: "That link no longer leads to a cart: it was checked out, or it has expired."})
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return err
		}
		p, signedIn := customerOf(r)
		if signedIn && p.AccountID != rc.CustomerID {
			s.flash.Set(w, r, ui.Flash{Error: true, Text: "That cart belongs to another account: sign out, then open the link again."})
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		}
		ui.SetCookie(w, r, cartCookie, rc.CartID, "/", cartMaxAge)
		if !signedIn {
			http.Redirect(w, r, "/account/login?next=/cart", http.StatusSeeOther)
			return nil
		}
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return nil
	})
}

type unsubscribeView struct {
	view
	Token        string
	Email        string
	Unsubscribed bool
	Flash        *ui.Flash
}

// UnsubscribePage serves GET /unsubscribe/{token}: it names the address
// and asks to confirm with a button (a GET changes nothing, so a mail
// scanner that follows links does not unsubscribe anyone). An unknown
// token is a 404 page.
func (s *Storefront) UnsubscribePage() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if s.svc.Mailing == nil {
			return errNoPage
		}
		sub, err := s.svc.Mailing.Subscription(r.Context(), r.PathValue("token"))
		if err != nil {
			return err
		}
		return s.renderUnsubscribe(w, r, r.PathValue("token"), sub)
	})
}

// Unsubscribe serves POST /unsubscribe/{token}: no more abandoned-cart
// reminders to the address; then the page again, saying so.
func (s *Storefront) Unsubscribe() http.Handler {
	return s.csrf.Handler(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if s.svc.Mailing == nil {
			return errNoPage
		}
		token := r.PathValue("token")
		if _, err := s.svc.Mailing.Unsubscribe(r.Context(), token); err != nil {
			return err
		}
		s.flash.Set(w, r, ui.Flash{Text: "Done: no more reminders will be sent to this address."})
		http.Redirect(w, r, "/unsubscribe/"+token, http.StatusSeeOther)
		return nil
	}))
}

func (s *Storefront) renderUnsubscribe(w http.ResponseWriter, r *http.Request, token string, sub notify.Subscription) error {
	cats, err := s.cat.Categories(r.Context())
	if err != nil {
		return err
	}
	v := unsubscribeView{Token: token, Email: sub.Email, Unsubscribed: sub.Unsubscribed, Flash: s.flash.Take(w, r)}
	v.view = s.newView(r, "E-mail reminders", "", "", cats, "")
	v.NoIndex = true
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the URL
	return s.pages.Render(w, http.StatusOK, "unsubscribe", v)
}
