// Command mercato runs the Mercato shop. Everything happens in app.Run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mercato-shop/mercato/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mercato:", err)
		if app.IsUsage(err) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
