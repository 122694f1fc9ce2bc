package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// This file checks internal/app/openapi.json: that it is a well-formed
// OpenAPI 3.1 document, that it documents exactly the routes of routes.go,
// and (through apiDoc.checkResponse, used by every HTTP test in this
// package) that real responses match the documented statuses, content
// types and schemas.

// apiDoc is the parsed OpenAPI document.
type apiDoc struct {
	root map[string]any
	mux  *http.ServeMux // documented "METHOD path" patterns, to find the operation of a request
}

// docOperation is one documented (method, path).
type docOperation struct {
	method, path string
	op           map[string]any
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadAPIDoc(t testing.TB) *apiDoc {
	t.Helper()
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(openAPIDoc))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	d := &apiDoc{root: root, mux: http.NewServeMux()}
	for _, o := range d.operations() {
		d.mux.Handle(o.method+" "+o.path, http.NotFoundHandler())
	}
	return d
}

// operations lists the documented operations in a stable order.
func (d *apiDoc) operations() []docOperation {
	paths, _ := d.root["paths"].(map[string]any)
	var out []docOperation
	for _, p := range slices.Sorted(mapKeys(paths)) {
		item, _ := paths[p].(map[string]any)
		for _, m := range httpMethods {
			if op, ok := item[m].(map[string]any); ok {
				out = append(out, docOperation{method: strings.ToUpper(m), path: p, op: op})
			}
		}
	}
	return out
}

// operation finds the documented operation a request goes to, the way the
// router would.
func (d *apiDoc) operation(r *http.Request) (docOperation, bool) {
	_, pattern := d.mux.Handler(r)
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return docOperation{}, false
	}
	if method == http.MethodGet && r.Method == http.MethodHead {
		method = http.MethodGet
	}
	item := d.root["paths"].(map[string]any)[path].(map[string]any)
	op, ok := item[strings.ToLower(method)].(map[string]any)
	return docOperation{method: method, path: path, op: op}, ok
}

// resolve follows a local "$ref" ("#/components/...") and reports whether it exists.
func (d *apiDoc) resolve(ref string) (any, bool) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	var cur any = d.root
	if ptr == "" {
		return cur, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref follows $ref chains of a response, parameter or schema object.
func (d *apiDoc) deref(v any) map[string]any {
	m, _ := v.(map[string]any)
	for i := 0; i < 10 && m != nil; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, _ := d.resolve(ref)
		m, _ = target.(map[string]any)
	}
	return m
}

// documentedRoute is a route of routes.go that openapi.json must document,
// as "METHOD path" in OpenAPI's spelling, with its access rule.
type documentedRoute struct {
	key    string
	access access
}

// routeTable returns the routes of routes.go that must be documented: every
// route under /api/ plus the operations endpoints. Storefront HTML pages are
// not part of the REST contract.
func routeTable(t *testing.T) []documentedRoute {
	t.Helper()
	a, err := Wire(Config{Currency: "EUR"}, slog.New(slog.NewTextHandler(io.Discard, nil)), sqldbtest.SQLite(t, Migrations()...))
	if err != nil {
		t.Fatal(err)
	}
	var out []documentedRoute
	for _, rt := range a.routes() {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			method, path = "", rt.pattern
		}
		if !strings.HasPrefix(path, "/api/") && path != "/healthz" && path != "/readyz" && path != "/metrics" {
			continue
		}
		if method == "" {
			t.Errorf("route %q has no method: API routes must name one (\"GET %s\")", rt.pattern, rt.pattern)
			continue
		}
		// Go wildcards {name...} and the {$} anchor are {name} and nothing in OpenAPI.
		path = strings.ReplaceAll(path, "...}", "}")
		path = strings.TrimSuffix(path, "{$}")
		out = append(out, documentedRoute{method + " " + path, rt.access})
	}
	return out
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadAPIDoc(t)
	documented := map[string]bool{}
	for _, o := range doc.operations() {
		documented[o.method+" "+o.path] = true
	}
	served := map[string]bool{}
	for _, r := range routeTable(t) {
		if served[r.key] {
			t.Errorf("routes.go lists %q twice", r.key)
		}
		served[r.key] = true
	}
	var undocumented, unserved []string
	for r := range served {
		if !documented[r] {
			undocumented = append(undocumented, r)
		}
	}
	for r := range documented {
		if !served[r] {
			unserved = append(unserved, r)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(unserved)
	for _, r := range undocumented {
		t.Errorf("route %q is in internal/app/routes.go but not in internal/app/openapi.json: document it under paths", r)
	}
	for _, r := range unserved {
		t.Errorf("operation %q is in internal/app/openapi.json but no route in internal/app/routes.go serves it: remove it or add the route", r)
	}
	if len(served) == 0 {
		t.Fatal("routeTable found no routes")
	}
}

// TestOpenAPISecurityMatchesAccess: each documented operation says the
// access rule its route declares in routes.go (x-mercato-access), and its
// security requirements and error answers follow from that rule: the
// account's routes take a bearer token or the session cookie, the admin API
// a bearer token only; routes open to anonymous callers list no security.
// (TestAuthorizationMatrix checks that the server behaves so.)
func TestOpenAPISecurityMatchesAccess(t *testing.T) {
	doc := loadAPIDoc(t)
	declared := map[string]access{}
	for _, r := range routeTable(t) {
		declared[r.key] = r.access
	}
	rules := map[access]struct {
		schemes []string // the alternatives of "security", sorted
		codes   []string // statuses the operation must document
	}{
		accessPublic:   {},
		accessCustomer: {[]string{"bearerAuth", "sessionCookie"}, []string{"401"}},
		accessStaff:    {[]string{"bearerAuth"}, []string{"401", "403"}},
		accessAdmin:    {[]string{"bearerAuth"}, []string{"401", "403"}},
		accessCart:     {nil, []string{"404"}},
		accessOrder:    {nil, []string{"404"}},
		accessWebhook:  {nil, []string{"400"}},
		accessMetrics:  {[]string{"metricsToken"}, []string{"401"}},
	}
	for _, o := range doc.operations() {
		where := o.method + " " + o.path
		want, ok := declared[where]
		if !ok {
			continue // TestOpenAPIMatchesRoutes names it
		}
		rule, known := rules[want]
		if !known {
			t.Errorf("%s: routes.go declares access %q, which this test does not know", where, want)
			continue
		}
		if got, _ := o.op["x-mercato-access"].(string); got != string(want) {
			t.Errorf("%s: x-mercato-access is %q, but routes.go declares %q", where, got, want)
		}
		var schemes []string
		for _, req := range asSlice(o.op["security"]) {
			m, _ := req.(map[string]any)
			if len(m) != 1 {
				t.Errorf("%s: security requirement %v must name exactly one scheme (alternatives are separate entries)", where, req)
			}
			for name := range m {
				schemes = append(schemes, name)
			}
		}
		sort.Strings(schemes)
		if !slices.Equal(schemes, rule.schemes) {
			t.Errorf("%s: security %v, but access %q means %v", where, schemes, want, rule.schemes)
		}
		responses, _ := o.op["responses"].(map[string]any)
		for _, code := range rule.codes {
			if responses[code] == nil {
				t.Errorf("%s: access %q must document %s", where, want, code)
			}
		}
	}
}

func TestOpenAPIWellFormed(t *testing.T) {
	doc := loadAPIDoc(t)
	if v, _ := doc.root["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc.root["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info needs title and version: %v", info)
	}

	// Every $ref resolves, and every component is used.
	used := map[string]bool{}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, found := doc.resolve(ref); !found {
					t.Errorf("%s: $ref %q does not resolve", at, ref)
				}
				used[ref] = true
			}
			for k, c := range v {
				walk(at+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s/%d", at, i), c)
			}
		}
	}
	walk("#", doc.root)
	comps, _ := doc.root["components"].(map[string]any)
	for kind, group := range comps {
		if kind == "securitySchemes" {
			continue
		}
		for name := range group.(map[string]any) {
			if ref := "#/components/" + kind + "/" + name; !used[ref] {
				t.Errorf("%s is never used: remove it", ref)
			}
		}
	}
	schemes, _ := comps["securitySchemes"].(map[string]any)

	// Every schema uses only keywords the contract validator understands, so
	// that no documented constraint goes unchecked.
	for name, s := range comps["schemas"].(map[string]any) {
		checkSchemaKeywords(t, "#/components/schemas/"+name, s)
	}

	opIDs := map[string]string{}
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range doc.operations() {
		where := o.method + " " + o.path
		id, _ := o.op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", where)
		} else if prev, dup := opIDs[id]; dup {
			t.Errorf("%s: operationId %q already used by %s", where, id, prev)
		}
		opIDs[id] = where
		if s, _ := o.op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", where)
		}
		if tags, _ := o.op["tags"].([]any); len(tags) == 0 {
			t.Errorf("%s: no tags", where)
		}
		// Path parameters: each {name} is declared, required, in: path.
		declared := map[string]bool{}
		params, _ := o.op["parameters"].([]any)
		for _, p := range params {
			pm := doc.deref(p)
			if pm["name"] == nil || pm["in"] == nil || pm["schema"] == nil {
				t.Errorf("%s: parameter %v needs name, in and schema", where, p)
			}
			checkSchemaKeywords(t, where+" parameter", pm["schema"])
			if pm["in"] == "path" {
				declared[pm["name"].(string)] = true
				if pm["required"] != true {
					t.Errorf("%s: path parameter %v must be required", where, pm["name"])
				}
			}
		}
		for _, m := range pathParam.FindAllStringSubmatch(o.path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not declared in parameters", where, m[1])
			}
			delete(declared, m[1])
		}
		for name := range declared {
			t.Errorf("%s: declares path parameter %q that the path does not have", where, name)
		}
		// Responses: at least one 2xx; 4xx/5xx bodies are problem documents.
		responses, _ := o.op["responses"].(map[string]any)
		ok2xx := false
		for code, r := range responses {
			rm := doc.deref(r)
			if rm["description"] == nil {
				t.Errorf("%s: response %s has no description", where, code)
			}
			ok2xx = ok2xx || strings.HasPrefix(code, "2")
			if strings.HasPrefix(code, "4") || (code == "default") {
				content, _ := rm["content"].(map[string]any)
				if _, ok := content["application/problem+json"]; !ok {
					t.Errorf("%s: response %s must be application/problem+json", where, code)
				}
			}
		}
		if !ok2xx {
			t.Errorf("%s: no 2xx response", where)
		}
		// Staff routes are secured and say what anonymous and customer callers get.
		secured := false
		sec, _ := o.op["security"].([]any)
		for _, req := range sec {
			for scheme := range req.(map[string]any) {
				secured = true
				if schemes[scheme] == nil {
					t.Errorf("%s: security scheme %q is not in components.securitySchemes", where, scheme)
				}
			}
		}
		if strings.HasPrefix(o.path, "/api/v1/admin/") {
			if !secured {
				t.Errorf("%s: admin operation without security: add \"security\": [{\"bearerAuth\": []}]", where)
			}
			for _, code := range []string{"401", "403"} {
				if responses[code] == nil {
					t.Errorf("%s: staff operation must document %s", where, code)
				}
			}
		}
		if body, ok := o.op["requestBody"]; ok {
			content, _ := doc.deref(body)["content"].(map[string]any)
			if _, ok := content["application/json"]; !ok {
				t.Errorf("%s: requestBody must be application/json", where)
			}
			if responses["400"] == nil {
				t.Errorf("%s: takes a body, so it must document 400", where)
			}
		}
	}
}

// schemaKeywords are the JSON Schema keywords validateSchema implements, plus
// annotations that need no check.
var schemaKeywords = map[string]bool{
	"$ref": true, "type": true, "properties": true, "required": true, "additionalProperties": true,
	"items": true, "enum": true, "const": true, "minimum": true, "maximum": true, "minLength": true,
	"maxLength": true, "pattern": true, "minItems": true, "maxItems": true, "minProperties": true,
	"maxProperties": true, "propertyNames": true, "allOf": true, "anyOf": true, "oneOf": true, "not": true,
	"format":      true,
	"description": true, "examples": true, "default": true, "title": true, "deprecated": true,
	"readOnly": true, "writeOnly": true,
}

func checkSchemaKeywords(t *testing.T, at string, s any) {
	t.Helper()
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	for k, v := range m {
		if !schemaKeywords[k] {
			t.Errorf("%s: schema keyword %q is not checked by the contract tests (validateSchema in openapi_test.go): teach it or avoid it", at, k)
		}
		switch k {
		case "properties":
			for name, ps := range v.(map[string]any) {
				checkSchemaKeywords(t, at+"/properties/"+name, ps)
			}
		case "items", "additionalProperties", "not", "propertyNames":
			checkSchemaKeywords(t, at+"/"+k, v)
		case "allOf", "anyOf", "oneOf":
			for i, ps := range v.([]any) {
				checkSchemaKeywords(t, fmt.Sprintf("%s/%s/%d", at, k, i), ps)
			}
		}
	}
}

// checkResponse checks one real answer against the document: the route and
// status are documented, the content type is the documented one, and the
// body validates against the documented schema.
func (d *apiDoc) checkResponse(t testing.TB, r *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	where := r.Method + " " + r.URL.String()
	o, ok := d.operation(r)
	if !ok {
		if strings.HasPrefix(r.URL.Path, "/api/") && status == http.StatusNotFound {
			return // an undocumented path: the catch-all 404 problem
		}
		t.Errorf("%s: no documented operation for this request (answered %d)", where, status)
		return
	}
	responses, _ := o.op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)]
	if !ok && status >= 500 {
		resp, ok = responses["default"]
	}
	if !ok {
		t.Errorf("%s: answered %d, which %s %s does not document (documented: %v)", where, status, o.method, o.path, slices.Sorted(mapKeys(responses)))
		return
	}
	rm := d.deref(resp)
	content, _ := rm["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) > 0 {
			t.Errorf("%s: %d is documented without a body but got %q", where, status, truncate(body))
		}
		return
	}
	ct, _, _ := strings.Cut(header.Get("Content-Type"), ";")
	media, ok := content[strings.TrimSpace(ct)].(map[string]any)
	if !ok {
		t.Errorf("%s: %d has Content-Type %q, documented: %v", where, status, ct, slices.Sorted(mapKeys(content)))
		return
	}
	if !strings.Contains(ct, "json") {
		return
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s: %d body is not JSON: %v: %q", where, status, err, truncate(body))
		return
	}
	for _, problem := range d.validateSchema(media["schema"], v, "body", true) {
		t.Errorf("%s: %d response does not match openapi.json: %s", where, status, problem)
	}
}

// validateSchema checks v against a JSON Schema (the subset in
// schemaKeywords). strict also refuses object properties the schema does not
// list when it lists properties and says nothing about additionalProperties:
// every field the API sends must be documented.
func (d *apiDoc) validateSchema(s any, v any, at string, strict bool) []string {
	sm, ok := s.(map[string]any)
	if !ok {
		if s == false {
			return []string{at + ": not allowed"}
		}
		return nil
	}
	if ref, ok := sm["$ref"].(string); ok {
		target, found := d.resolve(ref)
		if !found {
			return []string{at + ": unresolved $ref " + ref}
		}
		out := d.validateSchema(target, v, at, strict)
		rest := map[string]any{}
		for k, x := range sm {
			if k != "$ref" {
				rest[k] = x
			}
		}
		return append(out, d.validateSchema(rest, v, at, false)...)
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }

	if ts, ok := sm["type"]; ok {
		var types []string
		switch ts := ts.(type) {
		case string:
			types = []string{ts}
		case []any:
			for _, x := range ts {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(typ string) bool { return jsonIsType(v, typ) }) {
			return []string{fmt.Sprintf("%s: %s is not of type %v", at, jsonKindOf(v), types)}
		}
	}
	if e, ok := sm["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return jsonEqual(x, v) }) {
		fail("%v is not one of %v", v, e)
	}
	if c, ok := sm["const"]; ok && !jsonEqual(c, v) {
		fail("%v is not %v", v, c)
	}
	switch v := v.(type) {
	case json.Number:
		n, _ := new(big.Float).SetString(v.String())
		if lim, ok := sm["minimum"].(json.Number); ok && n != nil {
			if l, _ := new(big.Float).SetString(lim.String()); n.Cmp(l) < 0 {
				fail("%s is below the minimum %s", v, lim)
			}
		}
		if lim, ok := sm["maximum"].(json.Number); ok && n != nil {
			if l, _ := new(big.Float).SetString(lim.String()); n.Cmp(l) > 0 {
				fail("%s is above the maximum %s", v, lim)
			}
		}
	case string:
		n := utf8.RuneCountInString(v)
		if lim, ok := sm["minLength"].(json.Number); ok {
			if l, _ := lim.Int64(); int64(n) < l {
				fail("%q is shorter than %d", v, l)
			}
		}
		if lim, ok := sm["maxLength"].(json.Number); ok {
			if l, _ := lim.Int64(); int64(n) > l {
				fail("%q is longer than %d", truncate([]byte(v)), l)
			}
		}
		if p, ok := sm["pattern"].(string); ok {
			if re, err := regexp.Compile(p); err != nil {
				fail("bad pattern %q: %v", p, err)
			} else if !re.MatchString(v) {
				fail("%q does not match %s", v, p)
			}
		}
		if sm["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				fail("%q is not an RFC 3339 date-time", v)
			}
		}
	case []any:
		if lim, ok := sm["minItems"].(json.Number); ok {
			if l, _ := lim.Int64(); int64(len(v)) < l {
				fail("%d items, want at least %d", len(v), l)
			}
		}
		if lim, ok := sm["maxItems"].(json.Number); ok {
			if l, _ := lim.Int64(); int64(len(v)) > l {
				fail("%d items, want at most %d", len(v), l)
			}
		}
		if items, ok := sm["items"]; ok {
			for i, x := range v {
				errs = append(errs, d.validateSchema(items, x, fmt.Sprintf("%s[%d]", at, i), strict)...)
			}
		}
	case map[string]any:
		for _, r := range asSlice(sm["required"]) {
			if _, ok := v[r.(string)]; !ok {
				fail("required property %q is missing", r)
			}
		}
		if lim, ok := sm["minProperties"].(json.Number); ok {
			if l, _ := lim.Int64(); int64(len(v)) < l {
				fail("%d properties, want at least %d", len(v), l)
			}
		}
		if lim, ok := sm["maxProperties"].(json.Number); ok {
			if l, _ := lim.Int64(); int64(len(v)) > l {
				fail("%d properties, want at most %d", len(v), l)
			}
		}
		props, _ := sm["properties"].(map[string]any)
		addl, hasAddl := sm["additionalProperties"]
		for _, k := range slices.Sorted(mapKeys(v)) {
			if pn, ok := sm["propertyNames"]; ok {
				errs = append(errs, d.validateSchema(pn, k, at+" property name "+strconv.Quote(k), strict)...)
			}
			if ps, ok := props[k]; ok {
				errs = append(errs, d.validateSchema(ps, v[k], at+"."+k, strict)...)
				continue
			}
			switch {
			case hasAddl:
				errs = append(errs, d.validateSchema(addl, v[k], at+"."+k, strict)...)
			case strict && props != nil:
				fail("property %q is not documented", k)
			}
		}
	}
	for _, sub := range asSlice(sm["allOf"]) {
		errs = append(errs, d.validateSchema(sub, v, at, false)...)
	}
	if alts := asSlice(sm["anyOf"]); len(alts) > 0 && !slices.ContainsFunc(alts, func(sub any) bool { return len(d.validateSchema(sub, v, at, false)) == 0 }) {
		fail("matches none of anyOf")
	}
	if one := asSlice(sm["oneOf"]); len(one) > 0 {
		n := 0
		for _, sub := range one {
			if len(d.validateSchema(sub, v, at, false)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d of oneOf, want exactly 1", n)
		}
	}
	if not, ok := sm["not"]; ok && len(d.validateSchema(not, v, at, false)) == 0 {
		fail("matches a schema it must not match")
	}
	return errs
}

func jsonIsType(v any, typ string) bool {
	switch typ {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, ok = new(big.Int).SetString(n.String(), 10)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func jsonKindOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case json.Number:
		return "number " + v.String()
	case string:
		return fmt.Sprintf("string %q", truncate([]byte(v)))
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// TestSchemaValidator makes sure the contract checker itself catches what it
// claims to.
func TestSchemaValidator(t *testing.T) {
	doc := loadAPIDoc(t)
	product := `{"id":"p1","slug":"s","title":"T","description":"","status":"active","featured":false,"images":[],
		"attributes":{"color":"red"},"category_ids":[],"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05.123Z",
		"variants":[{"id":"v1","sku":"S","title":"Default","options":{},"price":{"amount":1999,"currency":"EUR"},"available":3,"backorder":false}]}`
	tests := []struct {
		name, schema, body string
		wantErr            string
	}{
		{"valid product", "Product", product, ""},
		{"float amount", "Product", strings.Replace(product, "1999", "19.99", 1), "price.amount: number 19.99 is not of type [integer]"},
		{"missing field", "Product", strings.Replace(product, `"featured":false,`, "", 1), `required property "featured" is missing`},
		{"undocumented field", "Product", strings.Replace(product, `"featured":false,`, `"featured":false,"secret":1,`, 1), `property "secret" is not documented`},
		{"bad enum", "Product", strings.Replace(product, `"active"`, `"live"`, 1), "is not one of"},
		{"bad date", "Product", strings.Replace(product, "2026-01-02T03:04:05Z", "yesterday", 1), "not an RFC 3339 date-time"},
		{"bad currency", "Product", strings.Replace(product, `"EUR"`, `"eur"`, 1), "does not match"},
		{"null cursor", "ProductPage", `{"items":[],"next_cursor":null}`, ""},
		{"number cursor", "ProductPage", `{"items":[],"next_cursor":5}`, "is not of type"},
		{"problem", "Problem", `{"type":"about:blank","title":"Bad Request","status":400,"errors":[{"field":"limit","message":"m"}]}`, ""},
		{"problem without field", "Problem", `{"type":"about:blank","title":"Bad Request","status":400,"errors":[{"message":"m"}]}`, `"field" is missing`},
		{"adjustment zero", "StockAdjustment", `{"delta":0,"reason":"x"}`, "must not match"},
		{"input unknown field", "ProductInput", `{"title":"x","variants":[{}],"nope":1}`, "not allowed"},
		{"input price range", "VariantInput", `{"price":{"amount":-1,"currency":"EUR"}}`, "below the minimum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			dec := json.NewDecoder(strings.NewReader(tt.body))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			errs := doc.validateSchema(map[string]any{"$ref": "#/components/schemas/" + tt.schema}, v, "body", true)
			got := strings.Join(errs, "\n")
			switch {
			case tt.wantErr == "" && got != "":
				t.Errorf("unexpected errors:\n%s", got)
			case tt.wantErr != "" && !strings.Contains(got, tt.wantErr):
				t.Errorf("errors %q do not contain %q", got, tt.wantErr)
			}
		})
	}
}
