// Command loadtest is Mercato's load harness and soak test; see
// internal/loadtest and docs/PERFORMANCE.md ("Load harness").
//
//	go run ./cmd/loadtest [flags]        every route on the ceiling, SQLite and PostgreSQL
//	go run ./cmd/loadtest soak [flags]   mixed load on one engine; fails if memory grows
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mercato-shop/mercato/internal/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := loadtest.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}
