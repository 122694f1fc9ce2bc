// Mercato: payments in the browser. Loaded only by the checkout page when a
// card is entered with Stripe Elements, and by an order page awaiting its
// payment. The card fields live in Stripe's frames: the card number goes to
// Stripe, and the form sends Mercato only the payment method id (pm_…) that
// Stripe makes from it.
(function () {
  'use strict';
  var doc = document;

  function show(el, text) {
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  // Checkout: Stripe Elements card field.
  function cardEntry(entry) {
    var form = entry.closest('form');
    var hidden = form.querySelector('input[name=card_payment_method]');
    var error = entry.querySelector('[data-card-error]');
    if (!window.Stripe) {
      show(error, 'The card field could not load (Stripe is unreachable). Reload the page to try again, or choose another way to pay.');
      return;
    }
    var stripe = window.Stripe(entry.getAttribute('data-stripe-key'));
    var card = stripe.elements().create('card');
    card.mount(entry.querySelector('[data-card-field]'));
    card.on('change', function (e) {
      hidden.value = '';
      show(error, e.error ? e.error.message : '');
    });
    var busy = false;
    form.addEventListener('submit', function (e) {
      var by = e.submitter;
      if (by && by.value !== 'order') return; // "Update shipping options"
      var chosen = form.querySelector('input[name=payment_method]:checked');
      if (!chosen || chosen.getAttribute('data-kind') !== 'card_element' || hidden.value) return;
      e.preventDefault();
      if (busy) return;
      busy = true;
      if (by) by.disabled = true;
      var val = function (name) { var f = form.elements[name]; return f ? f.value : ''; };
      stripe.createPaymentMethod({
        type: 'card',
        card: card,
        billing_details: { name: val('name'), email: val('email') }
      }).then(function (r) {
        busy = false;
        if (by) by.disabled = false;
        if (r.error) {
          show(error, r.error.message);
          return;
        }
        hidden.value = r.paymentMethod.id;
        // In a new task: while the submit event is still being handled
        // (an answer at once), the browser ignores another submission.
        setTimeout(function () {
          if (form.requestSubmit) form.requestSubmit(by || undefined);
          else form.submit();
        }, 0);
      });
    });
  }

  // Order awaiting its payment: finish what Stripe asks (3-D Secure), then
  // look a few times whether the provider's confirmation has arrived.
  function awaitPayment(waiting) {
    var status = waiting.querySelector('[data-poll-status]');
    var tries = 0;
    function poll() {
      if (tries >= 10) {
        show(status, 'Still waiting for the confirmation. It can take a little longer; refresh later.');
        return;
      }
      tries++;
      show(status, 'Waiting for the confirmation…');
      setTimeout(function () {
        fetch(location.href, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/html' } })
          .then(function (res) { return res.text(); })
          .then(function (html) {
            if (html.indexOf('data-await-payment') < 0) location.reload();
            else poll();
          }, poll);
      }, 1000 + tries * 1000);
    }
    var action = waiting.querySelector('[data-stripe-action]');
    if (!action) {
      poll();
      return;
    }
    var payError = action.querySelector('[data-pay-error]');
    if (!window.Stripe) {
      show(payError, 'The payment window could not load (Stripe is unreachable). Reload the page to try again.');
      return;
    }
    var sp = window.Stripe(action.getAttribute('data-stripe-key'));
    var secret = action.getAttribute('data-client-secret');
    sp.retrievePaymentIntent(secret).then(function (r) {
      var pi = r.paymentIntent;
      var next = null;
      if (pi && pi.status === 'requires_action') next = sp.handleNextAction({ clientSecret: secret });
      else if (pi && pi.status === 'requires_confirmation') next = sp.confirmCardPayment(secret);
      if (!next) {
        if (r.error) show(payError, r.error.message);
        poll();
        return;
      }
      next.then(function (res) {
        if (res.error) show(payError, res.error.message);
        poll();
      });
    });
  }

  var entry = doc.querySelector('[data-card-entry]');
  if (entry) cardEntry(entry);
  var waiting = doc.querySelector('[data-await-payment]');
  if (waiting) awaitPayment(waiting);
})();
