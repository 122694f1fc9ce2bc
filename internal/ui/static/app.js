// Mercato: small enhancements. Every page works without this file.
(function () {
  'use strict';
  var doc = document;
  doc.documentElement.classList.add('js');

  // Listing filters and sort apply as soon as they change.
  doc.addEventListener('change', function (e) {
    var el = e.target;
    if (el.hasAttribute && el.hasAttribute('data-autosubmit') && el.form) {
      if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
    }
  });

  // Filters start folded on narrow screens, open on wide ones.
  if (window.matchMedia && window.matchMedia('(max-width: 899px)').matches) {
    doc.querySelectorAll('details[data-collapse-narrow]').forEach(function (d) { d.open = false; });
  }

  // Variant picker: the headline price, stock and quantity limit follow the
  // chosen variant, and the URL names it so the choice can be shared.
  var buy = doc.querySelector('form.buy');
  if (buy) {
    var price = doc.querySelector('[data-price]');
    var stock = doc.querySelector('[data-stock]');
    var qty = buy.querySelector('input[name=quantity]');
    buy.addEventListener('change', function (e) {
      var r = e.target;
      if (r.name !== 'variant_id' || !r.checked) return;
      price.textContent = r.getAttribute('data-price');
      stock.textContent = r.getAttribute('data-stock');
      stock.className = 'stock stock-' + r.getAttribute('data-stock-class');
      qty.max = r.getAttribute('data-max');
      if (+qty.value > +qty.max) qty.value = qty.max;
      if (window.history && history.replaceState) {
        history.replaceState(null, '', location.pathname + '?variant=' + encodeURIComponent(r.value));
      }
    });
  }

  // Gallery thumbnails scroll the picture strip instead of jumping the page.
  doc.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('[data-thumb]');
    if (!a) return;
    var pic = doc.getElementById(a.getAttribute('href').slice(1));
    if (!pic) return;
    e.preventDefault();
    pic.parentElement.scrollTo({ left: pic.offsetLeft, behavior: 'smooth' });
    a.closest('ul').querySelectorAll('[data-thumb]').forEach(function (t) { t.removeAttribute('aria-current'); });
    a.setAttribute('aria-current', 'true');
  });
})();
