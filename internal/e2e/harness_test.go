package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/mercato-shop/mercato/internal/app"
)

// chromiumPath returns the browser to drive. Without one the test skips,
// or fails when MERCATO_TEST_REQUIRE_SERVICES=1 (CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("MERCATO_TEST_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		msg := fmt.Sprintf("browser tests need Chromium: %v (install it, or set MERCATO_TEST_CHROMIUM to its path)", err)
		if os.Getenv("MERCATO_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// syncBuffer collects the server's output for the failure log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// createAdmin makes the admin account adminEmail with `mercato admin
// create`, as an operator would, on the data of env.
func createAdmin(t *testing.T, env map[string]string) {
	t.Helper()
	var out bytes.Buffer
	if err := app.Run(context.Background(), []string{"mercato", "admin", "create", "--email", adminEmail, "--password", adminPassword, "--name", "Ada Admin"},
		func(k string) string { return env[k] }, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("mercato admin create: %v", err)
	}
}

// startServer runs the real program, `mercato serve`, on a free port with a
// fresh data folder, waits for its "listening on http://ADDR" line and for
// /healthz, and stops it when the test ends. It returns the base URL.
func startServer(t *testing.T, env map[string]string) string {
	t.Helper()
	vars := map[string]string{
		"MERCATO_ADDR":      "127.0.0.1:0",
		"MERCATO_DATA_DIR":  t.TempDir(),
		"MERCATO_LOG_LEVEL": "warn",
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := app.Run(ctx, []string{"mercato", "serve"}, func(k string) string { return vars[k] }, strings.NewReader(""), stdoutW, logs)
		stdoutW.Close()
		done <- err
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logs, line)
			if _, rest, ok := strings.Cut(line, "listening on http://"); ok {
				select {
				case addr <- strings.Fields(rest)[0]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("mercato serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("mercato serve did not stop within 20s of cancellation")
		}
		if t.Failed() {
			t.Logf("server output:\n%s", logs)
		}
	})
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("mercato serve ended before listening: %v\n%s", err, logs)
	case <-time.After(90 * time.Second):
		t.Fatalf("mercato serve did not print its address within 90s:\n%s", logs)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/healthz: not ready after 15s (last: %v)", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startBrowser starts one headless Chromium for the whole test, with a
// fresh profile, and closes it when the test ends.
func startBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel() })
	// The first action starts the browser and binds it to the context it
	// runs with, so it must be bctx itself, not a shorter-lived child.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium at %s: %v", path, err)
	}
	return bctx
}

// probeJS runs in every page before its own scripts: it records CSP
// violations and script errors, which audit reports.
const probeJS = `window.__problems = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__problems.push('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline code') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});
window.addEventListener('error', function (e) {
  window.__problems.push('error: ' + (e.message || ('could not load ' + (e.target && (e.target.src || e.target.href)))));
}, true);`

// tab is one browser tab with a viewport size.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

type tabOptions struct {
	width, height int64
	noJS          bool
}

func newTab(t *testing.T, browser context.Context, base string, o tabOptions) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	ctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(tcancel)
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.EmulateViewport(o.width, o.height),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: probeJS})
			return err
		}),
	}
	if o.noJS {
		steps = append(steps, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return &tab{t: t, ctx: ctx, base: base}
}

// open navigates to a path of the shop and returns the HTTP status.
func (b *tab) open(path string) int64 {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return res.Status
}

// follow runs an action that navigates (a click, Enter in a field) and
// waits for the new page; it returns the HTTP status.
func (b *tab) follow(what string, a chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return res.Status
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval runs JavaScript in the page (through DevTools, so it works with
// the page's own scripts disabled) and decodes its result.
func eval[T any](b *tab, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %.80q: %v", js, err)
	}
	return v
}

// text returns the trimmed text of the first element matching a CSS
// selector, or "" when there is none.
func (b *tab) text(sel string) string {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	return eval[string](b, `(function(){ var e = document.querySelector(`+string(q)+`); return e ? e.textContent.replace(/\s+/g, ' ').trim() : ''; })()`)
}

// location returns the current URL's path and query.
func (b *tab) location() *url.URL {
	b.t.Helper()
	u, err := url.Parse(eval[string](b, `location.href`))
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// auditJS checks what a page owes every visitor: a language, one h1, a main
// landmark and skip link, alt text, labelled controls, named links and
// buttons, unique ids, no sideways scrolling, no CSP violations or script
// errors, no broken images.
const auditJS = `(function () {
  var p = (window.__problems || []).slice();
  var d = document;
  if (!d.documentElement.lang) p.push('<html> has no lang');
  var h1 = d.querySelectorAll('h1').length;
  if (h1 !== 1) p.push(h1 + ' h1 elements');
  if (!d.querySelector('main#main')) p.push('no <main id=main>');
  if (!d.querySelector('a.skip[href="#main"]')) p.push('no skip link');
  if (!d.title) p.push('no title');
  d.querySelectorAll('img').forEach(function (i) {
    if (!i.hasAttribute('alt')) p.push('img without alt: ' + i.src);
    if (i.complete && i.naturalWidth === 0) p.push('broken image: ' + i.src);
  });
  d.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(function (el) {
    var ok = (el.id && d.querySelector('label[for="' + CSS.escape(el.id) + '"]')) || el.closest('label') || el.getAttribute('aria-label');
    if (!ok) p.push('control without a label: ' + el.outerHTML.slice(0, 100));
  });
  d.querySelectorAll('a[href], button').forEach(function (el) {
    if (!(el.textContent.trim() || el.getAttribute('aria-label') || el.querySelector('img[alt]:not([alt=""])'))) p.push('link or button without a name: ' + el.outerHTML.slice(0, 100));
  });
  var ids = {};
  d.querySelectorAll('[id]').forEach(function (el) { if (ids[el.id]) p.push('duplicate id ' + el.id); ids[el.id] = true; });
  if (d.documentElement.scrollWidth > window.innerWidth + 1) p.push('the page scrolls sideways: ' + d.documentElement.scrollWidth + 'px wide in a ' + window.innerWidth + 'px window');
  return p;
})()`

// audit fails the test for each problem auditJS finds on the current page.
func (b *tab) audit() {
	b.t.Helper()
	where := b.location().RequestURI()
	for _, p := range eval[[]string](b, auditJS) {
		b.t.Errorf("%s: %s", where, p)
	}
}

// waitImages waits until the pictures in the viewport have loaded, and the
// fonts, so a screenshot shows the finished page.
func (b *tab) waitImages() {
	b.t.Helper()
	eval[bool](b, `Promise.all([document.fonts.ready].concat(Array.prototype.filter.call(document.images, function (i) {
    return !i.complete && i.getBoundingClientRect().top < window.innerHeight;
  }).map(function (i) { return new Promise(function (r) { i.addEventListener('load', r); i.addEventListener('error', r); }); }))).then(function () { return true; })`)
}

// submitted clicks sel and returns the request the browser then sends to a
// URL ending in path (the request is observed, whatever the server answers).
func (b *tab) submitted(sel, path string) *network.Request {
	b.t.Helper()
	ev, err := chromedp.Run(b.ctx, chromedp.WaitEvent(network.RequestWillBeSent, func(e network.EventRequestWillBeSent) bool {
		return strings.HasSuffix(e.Request.URL, path)
	}, chromedp.Click(chromedp.CSS(sel))))
	if err != nil {
		b.t.Fatalf("click %s and wait for a request to %s: %v", sel, path, err)
	}
	return ev.Request
}

// apiProduct is what the tests read of the public JSON API to know what the
// pages should show.
type apiProduct struct {
	Slug     string `json:"slug"`
	Title    string `json:"title"`
	Variants []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
		Price struct {
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
		} `json:"price"`
		Available int64 `json:"available"`
		Backorder bool  `json:"backorder"`
	} `json:"variants"`
}

// products reads every active product through GET /api/v1/products.
func products(t *testing.T, base string) []apiProduct {
	t.Helper()
	var out []apiProduct
	cursor := ""
	for range 50 {
		res, err := http.Get(base + "/api/v1/products?limit=100&cursor=" + url.QueryEscape(cursor))
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Items      []apiProduct `json:"items"`
			NextCursor *string      `json:"next_cursor"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/products: %d %v", res.StatusCode, err)
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	return out
}
