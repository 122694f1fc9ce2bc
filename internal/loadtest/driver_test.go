package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeShop answers like the shop would: headers the ceiling must copy, a
// body per path, a chunked (unknown length) answer, and errors.
// newConns counts the connections it accepts.
func fakeShop(t *testing.T, newConns *atomic.Int64) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/products", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Cache-Control", "public, max-age=30")
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		fmt.Fprintf(w, `{"items":[],"query":%q}`, r.URL.RawQuery)
	})
	mux.HandleFunc("GET /p/{slug}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// Larger than net/http's buffer and flushed: sent chunked.
		for i := range 200 {
			fmt.Fprintf(w, "<p>%s line %d</p>\n", r.PathValue("slug"), i)
			if i%50 == 0 {
				w.(http.Flusher).Flush()
			}
		}
	})
	mux.HandleFunc("GET /close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database on fire", http.StatusInternalServerError)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew && newConns != nil {
			newConns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestCeilingServesTheCapturedBytes(t *testing.T) {
	shop := fakeShop(t, nil)
	paths := []string{"/api/v1/products?limit=20", "/p/red-shoe", "/p/blue-shoe"}
	c, err := capture(context.Background(), shop.Client(), shop.URL, paths)
	if err != nil {
		t.Fatal(err)
	}
	base, stop, err := serveCeiling(c)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, p := range paths {
		want, err := http.Get(shop.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		wantBody, _ := io.ReadAll(want.Body)
		want.Body.Close()
		got, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		gotBody, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if got.ContentLength != int64(len(wantBody)) || len(got.TransferEncoding) > 0 {
			t.Errorf("%s: ceiling sent Content-Length %d, Transfer-Encoding %v; want the length %d, not chunked", p, got.ContentLength, got.TransferEncoding, len(wantBody))
		}
		if got.StatusCode != 200 || !bytes.Equal(gotBody, wantBody) {
			t.Errorf("%s: ceiling answered %d %q, the shop %q", p, got.StatusCode, gotBody, wantBody)
		}
		for _, h := range []string{"Content-Type", "ETag", "Cache-Control", "Content-Security-Policy"} {
			if got.Header.Get(h) != want.Header.Get(h) {
				t.Errorf("%s: header %s = %q, the shop sent %q", p, h, got.Header.Get(h), want.Header.Get(h))
			}
		}
		if d := got.Header.Values("Date"); len(d) != 1 {
			t.Errorf("%s: %d Date headers (the captured one must not be replayed beside the server's)", p, len(d))
		}
	}
	if c.bytesOf(paths[:1]) != len(`{"items":[],"query":"limit=20"}`) {
		t.Errorf("bytesOf = %d", c.bytesOf(paths[:1]))
	}
	resp, err := http.Get(base + "/not-captured")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("a path not captured: %d, want 404", resp.StatusCode)
	}
	if _, err := capture(context.Background(), shop.Client(), shop.URL, []string{"/boom"}); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("capturing a 500: err = %v, want an error naming it (the ceiling must serve what the shop serves on success)", err)
	}
}

func TestRotateSpeaksHTTP(t *testing.T) {
	var conns atomic.Int64
	shop := fakeShop(t, &conns)
	ctx := context.Background()

	fn, closeAll := rotate(shop.URL, []string{"/api/v1/products?limit=20", "/p/a"}, 1)
	for i := range 20 {
		if err := fn(ctx, 0, i); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	closeAll()
	if n := conns.Load(); n != 1 {
		t.Errorf("20 requests of one worker opened %d connections, want 1 (keep-alive, chunked bodies read to the end)", n)
	}

	conns.Store(0)
	fn, closeAll = rotate(shop.URL, []string{"/close"}, 1)
	for i := range 3 {
		if err := fn(ctx, 0, i); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	closeAll()
	if n := conns.Load(); n != 3 {
		t.Errorf("3 answers with Connection: close used %d connections, want 3", n)
	}

	fn, closeAll = rotate(shop.URL, []string{"/boom"}, 1)
	defer closeAll()
	var se *StatusError
	if err := fn(ctx, 0, 0); !errors.As(err, &se) || se.Code != 500 || !strings.Contains(se.Body, "database on fire") {
		t.Errorf("a 500: err = %v, want a StatusError with its code and body", err)
	}
	if err := fn(ctx, 0, 1); !errors.As(err, &se) {
		t.Errorf("the connection is still usable after a 500: err = %v", err)
	}
}

func TestDriveCountsEveryOperation(t *testing.T) {
	var n atomic.Int64
	fn := func(ctx context.Context, worker, iter int) error {
		switch k := n.Add(1); {
		case k%5 == 0:
			return &StatusError{What: "GET /x", Code: 503}
		case k%7 == 0:
			return &StatusError{What: "GET /x", Code: 404}
		case k%11 == 0:
			return errors.New("connection reset")
		}
		time.Sleep(time.Millisecond)
		return nil
	}
	var progressed atomic.Bool
	r := drive(context.Background(), 4, 1200*time.Millisecond, fn, func(time.Duration, int64, int64) { progressed.Store(true) })
	total := n.Load()
	if r.OK+r.Errors != total || int64(len(r.Latencies)) != total {
		t.Errorf("%d operations ran; the result has %d ok + %d errors and %d latencies", total, r.OK, r.Errors, len(r.Latencies))
	}
	if r.Errors == 0 || r.Status5xx == 0 || r.Status5xx >= r.Errors {
		t.Errorf("errors %d, 5xx %d: want some of each, 5xx a part of the errors", r.Errors, r.Status5xx)
	}
	if r.FirstErr == "" || r.Conns != 4 || r.Elapsed < 1200*time.Millisecond {
		t.Errorf("first error %q, conns %d, elapsed %v", r.FirstErr, r.Conns, r.Elapsed)
	}
	for i := 1; i < len(r.Latencies); i++ {
		if r.Latencies[i] < r.Latencies[i-1] {
			t.Fatal("latencies are not sorted")
		}
	}
	if !progressed.Load() {
		t.Error("no progress was reported during a run longer than a second")
	}
}

func TestDriveStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	fn := func(ctx context.Context, worker, iter int) error {
		if iter == 3 {
			once.Do(cancel)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	r := drive(ctx, 2, time.Hour, fn, nil)
	if r.Errors != 0 {
		t.Errorf("operations cut off by the harness counted as %d errors (%s)", r.Errors, r.FirstErr)
	}
}
