package inventory_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the inventory a leaf among the domain modules: it
// imports only shared packages (others, such as the catalog and the cart,
// import it), and its business-rule files leave HTTP to api.go.
func TestImports(t *testing.T) {
	const internal = "github.com/mercato-shop/mercato/internal/"
	shared := []string{"apperr", "auth", "money", "platform/"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
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
			allowed := false
			for _, s := range shared {
				allowed = allowed || rel == s || strings.HasPrefix(rel, s) && strings.HasSuffix(s, "/")
			}
			if !allowed {
				t.Errorf("%s imports %s: the inventory imports no other domain module", name, path)
			}
			if rel == "platform/web" && name != "api.go" {
				t.Errorf("%s imports platform/web: HTTP belongs in api.go", name)
			}
		}
	}
}
