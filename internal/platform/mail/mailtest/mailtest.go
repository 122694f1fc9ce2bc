// Package mailtest runs a real SMTP server for tests, on 127.0.0.1 over TCP,
// built on github.com/emersion/go-smtp: STARTTLS or implicit TLS with a
// self-signed certificate made for the test, AUTH PLAIN, and hooks that
// refuse recipients or messages with any SMTP reply. It records every
// message it accepted.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	netmail "net/mail"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options shape the server.
type Options struct {
	StartTLS bool // offer STARTTLS
	Implicit bool // TLS from the first byte (smtps)
	// Username and Password, when set, are required: MAIL FROM without a
	// successful AUTH PLAIN is refused with 530.
	Username, Password string
	// Rcpt, when set, answers each RCPT TO; an error (*smtp.SMTPError for
	// a chosen code) refuses the recipient.
	Rcpt func(to string) error
	// Data, when set, answers each message once it is read; an error
	// refuses it. It may block (to hold a message "in flight").
	Data func(m Message) error
}

// Message is one message the server received.
type Message struct {
	From      string
	To        []string
	Raw       []byte
	Header    netmail.Header // parsed from Raw
	TLS       bool           // the connection was encrypted
	User      string         // the authenticated user, if any
	MessageID string
}

// Server is a running test server.
type Server struct {
	Addr string // 127.0.0.1:port
	Host string // 127.0.0.1
	Port string

	opts    Options
	roots   *x509.CertPool
	certPEM []byte

	mu       sync.Mutex
	accepted []Message
	refused  int
	arrived  chan struct{} // signalled (without blocking) on each accepted message
}

// Start runs a server until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, arrived: make(chan struct{}, 1)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS}, nil
	}))
	srv.Domain = "mailtest.local"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 4 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.AllowInsecureAuth = !opts.StartTLS && !opts.Implicit // credentials in clear text to 127.0.0.1 only
	var ln net.Listener
	var err error
	if opts.StartTLS || opts.Implicit {
		cert, roots := selfSigned(t)
		s.roots = roots
		s.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if opts.Implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
		srv.TLSConfig = nil // no STARTTLS inside TLS
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.Addr = ln.Addr().String()
	s.Host, s.Port, _ = net.SplitHostPort(s.Addr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		ln.Close() // Serve may not have registered it with srv yet
		<-done
	})
	return s
}

// URL is the server's address as a Mercato SMTP URL (with the credentials
// it requires, if any); query is appended as is ("tls=required").
func (s *Server) URL(query string) string {
	u := url.URL{Scheme: "smtp", Host: s.Addr, RawQuery: query}
	if s.opts.Implicit {
		u.Scheme = "smtps"
	}
	if s.opts.Username != "" {
		u.User = url.UserPassword(s.opts.Username, s.opts.Password)
	}
	return u.String()
}

// Roots trusts the server's certificate (nil without TLS).
func (s *Server) Roots() *x509.CertPool { return s.roots }

// CertPEM is the server's certificate in PEM (nil without TLS), for a
// program told to trust it by file.
func (s *Server) CertPEM() []byte { return s.certPEM }

// Messages returns what the server accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.accepted...)
}

// Refused counts the messages the Data hook refused.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Wait returns the accepted messages once there are at least n, or fails
// the test after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if ms := s.Messages(); len(ms) >= n {
			return ms
		}
		select {
		case <-s.arrived:
		case <-deadline.C:
			t.Fatalf("mailtest: %d message(s) after %v, want %d", len(s.Messages()), timeout, n)
		}
	}
}

type session struct {
	s    *Server
	tls  bool
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := ss.s.opts.Rcpt; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: ss.from, To: ss.to, Raw: raw, TLS: ss.tls, User: ss.user}
	if pm, err := netmail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Header = pm.Header
		m.MessageID = pm.Header.Get("Message-ID")
	}
	if f := ss.s.opts.Data; f != nil {
		if err := f(m); err != nil {
			ss.s.mu.Lock()
			ss.s.refused++
			ss.s.mu.Unlock()
			return err
		}
	}
	ss.s.mu.Lock()
	ss.s.accepted = append(ss.s.accepted, m)
	ss.s.mu.Unlock()
	select {
	case ss.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// Temporary is a 451 refusal: try again later.
func Temporary() error {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
}

// Permanent is a 554 refusal of the message.
func Permanent() error {
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: content rejected"}
}

// NoMailbox is a 550 refusal of a recipient.
func NoMailbox() error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
}
