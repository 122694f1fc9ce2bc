package web_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

type fuzzAddress struct {
	Name    string `json:"name"`
	Country string `json:"country"`
}

type fuzzBody struct {
	Email    string        `json:"email"`
	Quantity int64         `json:"quantity"`
	Address  fuzzAddress   `json:"shipping_address"`
	Items    []fuzzAddress `json:"items"`
}

// FuzzDecode: whatever a client sends, Decode either fills the value or
// answers an Invalid error (a 400), never anything else, and what it
// accepts is valid UTF-8 without NUL. The seeds run in every `go test`;
// `go test -fuzz FuzzDecode ./internal/platform/web` explores further.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@example.com","quantity":2,"shipping_address":{"name":"A","country":"DE"},"items":[{"name":"x"}]}`,
		`{"email":"a\u0000b"}`, `{"items":[{"name":"\u0000"}]}`, `{"quantity":1e400}`, `{"quantity":"2"}`,
		`{"unknown":1}`, `{} {}`, `[`, ``, "{\"email\":\"\xff\"}", `{"quantity":-9223372036854775809}`,
		`{"shipping_address":null}`, strings.Repeat(`[`, 10000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var v fuzzBody
		err := web.Decode(httptest.NewRecorder(), r, &v)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("Decode(%q) = %v, want an Invalid error", body, err)
			}
			return
		}
		out, _ := json.Marshal(v)
		if !utf8.Valid(out) || bytes.Contains(out, []byte(`\u0000`)) {
			t.Fatalf("Decode(%q) accepted NUL or invalid UTF-8: %s", body, out)
		}
	})
}
