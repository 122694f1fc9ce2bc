package app_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// domainModules are the packages that hold business rules. Their files
// leave HTTP to api.go, and each imports only the domain modules listed
// for it (a module that needs another's data asks its service through an
// interface it declares; a module that would call back publishes an event).
var domainModules = map[string][]string{
	"affiliate": {"customer", "order"},                                  // decodes their events (order.placed names the cart it referred)
	"analytics": {"order"},                                              // decodes order events
	"cart":      {"catalog"},                                            // prices and stock levels for lines
	"catalog":   {"inventory"},                                          // a product and its stock in one transaction
	"checkout":  {"cart", "inventory", "order", "payment"},              // the buying path
	"customer":  {},                                                     //
	"giftcard":  {"order"},                                              // decodes order events (gift cards sold as products)
	"inventory": {},                                                     // a leaf: others import it
	"notify":    {"cart", "customer", "giftcard", "inventory", "order"}, // decodes their events
	"order":     {"payment"},                                            // refunds and captures; consumes payment events
	"payment":   {},                                                     // a leaf: payment facts only
	"promotion": {"order"},                                              // decodes order events (cancelled, refunded)
	"shipping":  {},                                                     //
	"tax":       {},                                                     //
}

// leaves are the small shared values any module may import.
var leaves = []string{"address", "apperr", "auth", "country", "money"}

// TestModuleImports keeps the module graph as docs/ARCHITECTURE.md draws
// it: no business-rule file (service, store, events, types) imports
// platform/web, and no module imports a domain module it is not listed
// with above.
func TestModuleImports(t *testing.T) {
	const internal = "github.com/mercato-shop/mercato/internal/"
	for module, allowed := range domainModules {
		files, err := filepath.Glob(filepath.Join("..", module, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("module %s: no files (%v)", module, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				rel, ok := strings.CutPrefix(path, internal)
				if !ok {
					continue
				}
				switch {
				case rel == "platform/web":
					if filepath.Base(name) != "api.go" {
						t.Errorf("%s imports platform/web: HTTP belongs in the module's api.go", name)
					}
				case strings.HasPrefix(rel, "platform/"), slices.Contains(leaves, rel), rel == module:
				case !slices.Contains(allowed, rel):
					t.Errorf("%s imports %s: module %s may import only %v among the domain modules", name, rel, module, allowed)
				}
			}
		}
	}
}
