package loadtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// captured is one answer of the shop, kept to be served again.
type captured struct {
	status int
	header http.Header
	body   []byte
}

// hopHeaders are set by net/http for every answer, so they are not copied.
var hopHeaders = []string{"Date", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding"}

// capture fetches every path from the shop at base, once, and keeps its
// status, headers and body.
func capture(ctx context.Context, c *http.Client, base string, paths []string) (ceiling, error) {
	out := ceiling{}
	for _, p := range paths {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("capture %s: %w", p, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("capture %s: %w", p, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("capture %s: the shop answered %d", p, resp.StatusCode)
		}
		h := resp.Header.Clone()
		for _, k := range hopHeaders {
			h.Del(k)
		}
		out[p] = captured{status: resp.StatusCode, header: h, body: body}
	}
	return out, nil
}

// ceiling serves captured answers from memory by request URI: bare
// net/http, no routing beyond a map lookup, no database. What the shop
// would need to do nothing but write its bytes.
type ceiling map[string]captured

func (c ceiling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := c[r.URL.RequestURI()]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	// Framed by length, like a buffered answer: not chunked.
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// bytesOf returns the body size of the first captured path (for the report).
func (c ceiling) bytesOf(paths []string) int {
	if len(paths) == 0 {
		return 0
	}
	return len(c[paths[0]].body)
}

// serveCeiling starts the ceiling server on a free loopback port; stop
// closes it.
func serveCeiling(c ceiling) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
