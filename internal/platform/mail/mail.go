// Package mail sends e-mail over SMTP (RFC 5321) with the standard
// library's net/smtp. It knows nothing of the shop: notify declares the
// Sender interface it needs and app wires a *Sender into it.
//
// Transport security, from the server URL (ParseURL):
//   - smtps://host:465 talks TLS from the first byte (implicit TLS);
//   - smtp://host:587 upgrades with STARTTLS whenever the server offers it,
//     and with ?tls=required refuses to go on when it does not (an attacker
//     on the path can strip the offer; "required" is the safe choice for a
//     server on another machine);
//   - certificates are checked against the system's roots (or
//     Options.RootCAs) and the server's host name.
//
// Credentials in the URL authenticate with AUTH PLAIN, which net/smtp sends
// only over TLS or to localhost. The password never appears in an error, a
// log line or Server.String.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TLSMode says how a connection is secured.
type TLSMode int

const (
	// StartTLSIfOffered (smtp://) upgrades with STARTTLS when the server
	// offers it and goes on in plain text when it does not.
	StartTLSIfOffered TLSMode = iota
	// StartTLSRequired (smtp://...?tls=required) refuses to send without
	// STARTTLS.
	StartTLSRequired
	// ImplicitTLS (smtps://) talks TLS from the first byte.
	ImplicitTLS
)

// Server is an SMTP server parsed from a URL. Its String and LogValue show
// the user name but never the password.
type Server struct {
	Host     string
	Port     string
	TLS      TLSMode
	Username string
	password string
}

// Default ports: submission with STARTTLS (RFC 6409) and submission over
// implicit TLS (RFC 8314).
const (
	DefaultPort    = "587"
	DefaultTLSPort = "465"
)

// urlHint is the shape every ParseURL error names. It never repeats the
// URL it was given, which may hold a password.
const urlHint = "want smtp://user:password@host:587 (STARTTLS when offered; add ?tls=required to insist) or smtps://user:password@host:465 (implicit TLS)"

// ParseURL reads smtp://[user:password@]host[:port][?tls=required] or
// smtps://[user:password@]host[:port]. User and password are
// percent-decoded. The error names what is wrong and never quotes the URL.
func ParseURL(raw string) (Server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Server{}, errors.New("not a URL (percent-encode / @ : ? # in the user name and password, e.g. / as %2F): " + urlHint)
	}
	var s Server
	switch u.Scheme {
	case "smtp":
		s.TLS, s.Port = StartTLSIfOffered, DefaultPort
	case "smtps":
		s.TLS, s.Port = ImplicitTLS, DefaultTLSPort
	default:
		return Server{}, fmt.Errorf("scheme %q: %s", u.Scheme, urlHint)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return Server{}, errors.New("no host: " + urlHint)
	}
	s.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Server{}, errors.New("the port must be a number from 1 to 65535: " + urlHint)
		}
		s.Port = p
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return Server{}, errors.New("no path or fragment allowed: " + urlHint)
	}
	if u.User != nil {
		s.Username = u.User.Username()
		pw, ok := u.User.Password()
		if s.Username == "" || !ok || pw == "" {
			return Server{}, errors.New("give both a user name and a password, or neither: " + urlHint)
		}
		s.password = pw
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Server{}, errors.New("bad query: " + urlHint)
	}
	for k, vs := range q {
		if k != "tls" || len(vs) != 1 || vs[0] != "required" {
			return Server{}, fmt.Errorf("unknown option %q: the only option is tls=required", k)
		}
		if s.TLS == StartTLSIfOffered {
			s.TLS = StartTLSRequired
		}
	}
	return s, nil
}

// Addr is host:port.
func (s Server) Addr() string { return net.JoinHostPort(s.Host, s.Port) }

// String is the server's URL with the password left out.
func (s Server) String() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr()}
	if s.TLS == ImplicitTLS {
		u.Scheme = "smtps"
	}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	if s.TLS == StartTLSRequired {
		u.RawQuery = "tls=required"
	}
	return u.String()
}

// LogValue keeps the password out of structured logs.
func (s Server) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format keeps the password out of every fmt verb (%v, %+v, %#v, %s).
func (s Server) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// Options configure a Sender.
type Options struct {
	From      *netmail.Address // the From header and envelope sender (required)
	HelloName string           // the name given in EHLO; default "localhost"
	RootCAs   *x509.CertPool   // trusted roots; nil means the system's
	Timeout   time.Duration    // one delivery, from connecting to the server's answer; default 30s
}

// DefaultTimeout bounds one delivery when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Sender delivers messages to one SMTP server, one connection per message.
// It is safe for concurrent use.
type Sender struct {
	server Server
	opts   Options
	domain string // of the From address: the right-hand side of Message-IDs
}

// NewSender returns a Sender for server. From must be a valid address.
func NewSender(server Server, opts Options) (*Sender, error) {
	if opts.From == nil {
		return nil, errors.New("mail: no From address")
	}
	_, domain, ok := strings.Cut(opts.From.Address, "@")
	if !ok || domain == "" || strings.ContainsAny(opts.From.Address+opts.From.Name, "\r\n") {
		return nil, fmt.Errorf("mail: From %q is not an e-mail address", opts.From.Address)
	}
	if opts.HelloName == "" {
		opts.HelloName = "localhost"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Sender{server: server, opts: opts, domain: domain}, nil
}

// Server is where the Sender delivers (for logs: its String has no password).
func (s *Sender) Server() Server { return s.server }

// Message is one e-mail to one recipient.
type Message struct {
	// ID makes the Message-ID header, <ID@domain of From>: the same ID
	// gives the same Message-ID, so a copy sent twice can be recognised.
	ID              string
	To              string // a bare address
	Subject         string
	Text            string // the plain-text body (required)
	HTML            string // the HTML alternative; empty sends text only
	ListUnsubscribe string // a URL for the List-Unsubscribe header (RFC 2369); empty for none
}

// MessageID is the Message-ID header the Sender writes for id.
func (s *Sender) MessageID(id string) string { return "<" + id + "@" + s.domain + ">" }

// Error is a failed delivery. Permanent says that the server refused this
// message for good (a 5xx answer to RCPT TO, DATA or the message itself,
// or a message that cannot be written): sending it again cannot help.
// Anything else (no connection, TLS, authentication, a 4xx answer, a 5xx
// to MAIL FROM, which is about the sender, not this message) may pass later.
type Error struct {
	Stage string // connect, tls, hello, starttls, auth, mail, rcpt, data, message
	Code  int    // the server's reply code; 0 when it gave none
	Msg   string // the server's reply or what went wrong
	perm  bool
	err   error
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("smtp %s: %d %s", e.Stage, e.Code, e.Msg)
	}
	return fmt.Sprintf("smtp %s: %s", e.Stage, e.Msg)
}

func (e *Error) Unwrap() error { return e.err }

// Permanent reports whether sending the same message again cannot succeed.
func (e *Error) Permanent() bool { return e.perm }

// fail turns err at stage into an *Error. A server reply keeps its code
// and text; 5xx replies are permanent at the stages that concern the
// message (permanentAt).
func fail(stage string, err error, permanentAt bool) *Error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &Error{Stage: stage, Code: te.Code, Msg: oneLine(te.Msg), perm: permanentAt && te.Code >= 500 && te.Code < 600, err: err}
	}
	return &Error{Stage: stage, Msg: oneLine(err.Error()), err: err}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Send delivers m: it connects, secures the connection as the server URL
// says, authenticates, and sends. It returns nil once the server has
// accepted the message (its answer to the end of DATA), and an *Error
// otherwise. ctx bounds the whole exchange, as does Options.Timeout.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg, err := s.compose(m, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.server.Addr())
	if err != nil {
		return fail("connect", err, false)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Cancelling ctx ends a conversation blocked on the network.
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	tlsConfig := &tls.Config{ServerName: s.server.Host, RootCAs: s.opts.RootCAs, MinVersion: tls.VersionTLS12}
	if s.server.TLS == ImplicitTLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("tls", err, false)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.server.Host)
	if err != nil {
		return fail("connect", err, false)
	}
	defer c.Close()
	if err := c.Hello(s.opts.HelloName); err != nil {
		return fail("hello", err, false)
	}
	if s.server.TLS != ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return fail("starttls", err, false)
			}
		} else if s.server.TLS == StartTLSRequired {
			return &Error{Stage: "starttls", Msg: "the server does not offer STARTTLS and the URL says tls=required"}
		}
	}
	if s.server.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return &Error{Stage: "auth", Msg: "the server offers no AUTH (credentials are only sent over TLS or to localhost)"}
		}
		if err := c.Auth(smtp.PlainAuth("", s.server.Username, s.server.password, s.server.Host)); err != nil {
			return fail("auth", err, false)
		}
	}
	if err := c.Mail(s.opts.From.Address); err != nil {
		return fail("mail", err, false)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fail("rcpt", err, true)
	}
	w, err := c.Data()
	if err != nil {
		return fail("data", err, true)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("data", err, false)
	}
	if err := w.Close(); err != nil { // the server's answer to the message
		return fail("data", err, true)
	}
	// Accepted. A failed QUIT changes nothing: the message is on its way.
	c.Quit()
	return nil
}

// compose writes m as an RFC 5322 message: headers, then a
// multipart/alternative body (text, then HTML) in quoted-printable.
func (s *Sender) compose(m Message, date time.Time) ([]byte, error) {
	bad := func(what string) error {
		return &Error{Stage: "message", Msg: what, perm: true}
	}
	if m.ID == "" || strings.ContainsAny(m.ID, "<>@ \t\r\n") {
		return nil, bad("the message id must be a single word")
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil || to.Name != "" || strings.ContainsAny(m.To, "\r\n") {
		return nil, bad("the recipient is not a bare e-mail address")
	}
	if strings.ContainsAny(m.Subject, "\r\n") || strings.ContainsAny(m.ListUnsubscribe, "\r\n<> ") {
		return nil, bad("a header value spans lines")
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", s.opts.From.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", date.UTC().Format(time.RFC1123Z))
	header("Message-ID", s.MessageID(m.ID))
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies, please
	if m.ListUnsubscribe != "" {
		header("List-Unsubscribe", "<"+m.ListUnsubscribe+">")
	}
	qp := func(w io.Writer, body string) error {
		q := quotedprintable.NewWriter(w) // also turns line breaks into CRLF
		if _, err := q.Write([]byte(body)); err != nil {
			return err
		}
		return q.Close()
	}
	if m.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := qp(&b, m.Text); err != nil {
			return nil, bad(err.Error())
		}
		return b.Bytes(), nil
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	header("Content-Type", "multipart/alternative; boundary="+strconv.Quote(mw.Boundary()))
	b.WriteString("\r\n")
	for _, p := range []struct{ ctype, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {p.ctype + "; charset=utf-8"}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err == nil {
			err = qp(w, p.body)
		}
		if err != nil {
			return nil, bad(err.Error())
		}
	}
	if err := mw.Close(); err != nil {
		return nil, bad(err.Error())
	}
	b.Write(body.Bytes())
	return b.Bytes(), nil
}
