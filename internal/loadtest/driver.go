package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// op is one operation of a closed-loop worker: a request, or a whole
// shopper flow. It returns nil when the answer was the expected one.
// worker is the worker's number, iter counts its operations.
type op func(ctx context.Context, worker, iter int) error

// StatusError is an answer with a status the operation did not expect.
type StatusError struct {
	What string // "GET /api/v1/products"
	Code int
	Body string // the start of the answer, for the report
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.What, e.Code, e.Body)
}

// record is what one worker saw; the driver merges them after the run.
type record struct {
	ok, errs, s5xx int64
	firstErr       string
	lat            []time.Duration
}

// progressFunc is told, about once a second, how a run is going.
type progressFunc func(elapsed time.Duration, ok, errs int64)

// drive runs op in conns closed loops (each starts its next operation when
// the previous one has answered) until d has passed, then waits for the
// operations in flight. Only a cancelled ctx stops it early.
func drive(ctx context.Context, conns int, d time.Duration, fn op, progress progressFunc) Result {
	var (
		okN, errN atomic.Int64
		recs      = make([]record, conns)
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	done := make(chan struct{})
	if progress != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					progress(time.Since(start), okN.Load(), errN.Load())
				}
			}
		}()
	}
	for w := range conns {
		wg.Go(func() {
			rec := &recs[w]
			for i := 0; ctx.Err() == nil && time.Now().Before(deadline); i++ {
				t0 := time.Now()
				err := fn(ctx, w, i)
				rec.lat = append(rec.lat, time.Since(t0))
				if err == nil {
					rec.ok++
					okN.Add(1)
					continue
				}
				if ctx.Err() != nil {
					rec.lat = rec.lat[:len(rec.lat)-1] // cut off by the harness, not the server's fault
					break
				}
				rec.errs++
				errN.Add(1)
				if se := (*StatusError)(nil); errors.As(err, &se) && se.Code >= 500 {
					rec.s5xx++
				}
				if rec.firstErr == "" {
					rec.firstErr = err.Error()
				}
			}
		})
	}
	wg.Wait()
	close(done)
	r := Result{Conns: conns, Elapsed: time.Since(start), EventsBehind: -1}
	r.OK, r.Errors, r.Status5xx, r.FirstErr, r.Latencies = merge(recs)
	return r
}

// newClient returns a keep-alive client for conns concurrent requests to
// one host: every loop keeps its connection. No compression is asked for
// (as wrk does), no cookies are kept.
func newClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        2 * conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// closeClient drops the client's idle connections.
func closeClient(c *http.Client) { c.Transport.(*http.Transport).CloseIdleConnections() }

// get fetches url and reads the whole body; any status but 200 is an error.
func get(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return &StatusError{What: "GET " + req.URL.RequestURI(), Code: resp.StatusCode, Body: string(b)}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// rotate returns an op that GETs base+paths in turn, the workers spread
// over the list. Each worker keeps its own keep-alive connection and
// speaks HTTP/1.1 on it directly (as wrk does): net/http's client costs
// several times the CPU per request, which on a small machine would cap
// the ceiling at the load generator's speed rather than the server's.
func rotate(base string, paths []string, conns int) (op, func()) {
	host := strings.TrimPrefix(base, "http://")
	cs := make([]*rawConn, conns)
	fn := func(ctx context.Context, worker, iter int) error {
		c := cs[worker]
		if c == nil {
			nc, err := net.DialTimeout("tcp", host, 5*time.Second)
			if err != nil {
				return err
			}
			c = &rawConn{conn: nc, br: bufio.NewReaderSize(nc, 64<<10), bw: bufio.NewWriter(nc)}
			cs[worker] = c
		}
		err := c.get(host, paths[(worker+iter*7919)%len(paths)])
		var se *StatusError
		if err != nil && !errors.As(err, &se) || c.closed {
			c.conn.Close()
			cs[worker] = nil
		}
		return err
	}
	closeAll := func() {
		for _, c := range cs {
			if c != nil {
				c.conn.Close()
			}
		}
	}
	return fn, closeAll
}

// rawConn is one keep-alive HTTP/1.1 connection of a read worker.
type rawConn struct {
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	closed bool // the server said Connection: close
}

// get sends GET path and reads the whole answer; any status but 200 is a
// StatusError.
func (c *rawConn) get(host, path string) error {
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	c.bw.WriteString("GET ")
	c.bw.WriteString(path)
	c.bw.WriteString(" HTTP/1.1\r\nHost: ")
	c.bw.WriteString(host)
	c.bw.WriteString("\r\nUser-Agent: mercato-loadtest\r\n\r\n")
	if err := c.bw.Flush(); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	c.closed = resp.Close
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return &StatusError{What: "GET " + path, Code: resp.StatusCode, Body: string(b)}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}
