package admin

import (
	"io"
	"log/slog"
	"testing"

	"github.com/mercato-shop/mercato/internal/ui"
)

// TestNewParsesTemplates catches template mistakes (unknown functions,
// syntax) without a database: New parses every page.
func TestNewParsesTemplates(t *testing.T) {
	assets, err := ui.NewAssets(ui.Theme{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Services{}, Options{Assets: assets}, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
}
