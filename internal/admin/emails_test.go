package admin_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestEmailStateAndResend: the outbox pages show each e-mail's delivery
// state, attempts and last error, say when nothing is sent for want of an
// SMTP server, and let staff resend with a same-site POST.
func TestEmailStateAndResend(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db)
		ctx := context.Background()
		if _, _, err := s.a.Customers.Register(ctx, "new@example.com", "long enough password", "New"); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			s.a.Relay.Flush(ctx)
			if n, _ := outbox.Pending(ctx, s.a.DB); n == 0 {
				break
			}
		}
		page, err := s.a.Notify.ListEmails(ctx, notify.PageQuery{Limit: 1})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("no e-mail: %v", err)
		}
		id := page.Items[0].ID
		list := s.do(t, s.cookie, "GET", "/admin/emails", nil, "").Body.String()
		if !strings.Contains(list, `<span class="pill pill-queued">Queued</span>`) || !strings.Contains(list, "Not sent: no SMTP server is configured") {
			t.Fatalf("list:\n%s", list)
		}
		detail := s.do(t, s.cookie, "GET", "/admin/emails/"+id, nil, "").Body.String()
		if !strings.Contains(detail, "not sent: no SMTP server is configured") || !strings.Contains(detail, `action="/admin/emails/`+id+`/resend"`) {
			t.Fatalf("detail:\n%s", detail)
		}

		// A failed e-mail shows why, and can be resent.
		if _, err := db.ExecContext(ctx, `UPDATE notify_emails SET status = 'failed', attempts = 3, last_error = 'smtp rcpt: 550 5.1.1 <new@example.com>: no such user' WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		detail = s.do(t, s.cookie, "GET", "/admin/emails/"+id, nil, "").Body.String()
		for _, want := range []string{`<span class="pill pill-failed">Failed</span>`, "(3 attempts)", "smtp rcpt: 550 5.1.1 &lt;new@example.com&gt;: no such user", ">Resend</button>"} {
			if !strings.Contains(detail, want) {
				t.Fatalf("failed e-mail lacks %q:\n%s", want, detail)
			}
		}
		req := httptest.NewRequest("POST", "/admin/emails/"+id+"/resend", nil)
		req.Header.Set("Cookie", s.cookie)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		if rec.Code != 403 {
			t.Fatalf("cross-site resend: %d", rec.Code)
		}
		if rec := s.form(t, "", "/admin/emails/"+id+"/resend", url.Values{}); rec.Code != 303 || !strings.HasPrefix(rec.Header().Get("Location"), "/admin/login") {
			t.Fatalf("anonymous resend: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		_, cust, err := s.a.Customers.Login(ctx, "new@example.com", "long enough password")
		if err != nil {
			t.Fatal(err)
		}
		if rec := s.form(t, "mercato_session="+cust.Token, "/admin/emails/"+id+"/resend", url.Values{}); rec.Code != 303 || !strings.HasPrefix(rec.Header().Get("Location"), "/admin/login") {
			t.Fatalf("customer resend: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		if e, _ := s.a.Notify.GetEmail(ctx, id); e.Status != notify.StatusFailed {
			t.Fatalf("refused resends changed the e-mail: %+v", e.EmailSummary)
		}
		if _, err := s.a.Customers.CreateStaff(ctx, "sam@shop.test", "staff-pass-12", "Sam", auth.RoleStaff); err != nil {
			t.Fatal(err)
		}
		_, sess, _ := s.a.Customers.Login(ctx, "sam@shop.test", "staff-pass-12")
		rec = s.form(t, "mercato_session="+sess.Token, "/admin/emails/"+id+"/resend", url.Values{})
		if rec.Code != 303 || rec.Header().Get("Location") != "/admin/emails/"+id {
			t.Fatalf("staff resend: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
		if e, _ := s.a.Notify.GetEmail(ctx, id); e.Status != notify.StatusQueued || e.Attempts != 0 || e.LastError != "" {
			t.Fatalf("after resend: %+v", e.EmailSummary)
		}
		flash := rec.Result().Cookies()
		r2 := httptest.NewRequest("GET", "/admin/emails/"+id, nil)
		r2.Header.Set("Cookie", "mercato_session="+sess.Token)
		for _, c := range flash {
			r2.AddCookie(c)
		}
		rec2 := httptest.NewRecorder()
		s.h.ServeHTTP(rec2, r2)
		if !strings.Contains(rec2.Body.String(), "Queued the e-mail again. It is not sent: no SMTP server is configured") {
			t.Fatalf("no flash after resend:\n%s", rec2.Body)
		}

		// Being sent: no button, and a resend is refused.
		if _, err := db.ExecContext(ctx, `UPDATE notify_emails SET status = 'sending' WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		if detail := s.do(t, s.cookie, "GET", "/admin/emails/"+id, nil, "").Body.String(); strings.Contains(detail, "/resend") {
			t.Fatalf("a resend button while sending:\n%s", detail)
		}
		if rec := s.form(t, s.cookie, "/admin/emails/"+id+"/resend", url.Values{}); rec.Code != 409 {
			t.Fatalf("resend while sending: %d", rec.Code)
		}
		if rec := s.form(t, s.cookie, "/admin/emails/nope/resend", url.Values{}); rec.Code != 404 {
			t.Fatalf("resend of an unknown e-mail: %d", rec.Code)
		}
	})
}
