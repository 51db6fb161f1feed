// Package examples holds the example programs, one per directory; this
// test keeps them copyable into another module.
package examples

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPublicAPIOnly fails if an example program imports one of mediaport's
// internal packages, which a program outside the module cannot import.
// Its tests may: they are not what a user copies.
func TestPublicAPIOnly(t *testing.T) {
	files, err := filepath.Glob("*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	programs := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		programs[filepath.Dir(f)] = true
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if isInternal(path) {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
	if len(programs) < 7 {
		t.Fatalf("found %d example programs, want at least 7: %v", len(programs), programs)
	}
}

// isInternal reports whether path is an internal package of mediaport.
func isInternal(path string) bool {
	const module = "github.com/mediaport/mediaport"
	rest, ok := strings.CutPrefix(path, module+"/")
	return ok && (rest == "internal" || strings.HasPrefix(rest, "internal/") ||
		strings.Contains(rest, "/internal/") || strings.HasSuffix(rest, "/internal"))
}

func TestIsInternal(t *testing.T) {
	for path, want := range map[string]bool{
		"github.com/mediaport/mediaport/internal/udp":        true,
		"github.com/mediaport/mediaport/internal":            true,
		"github.com/mediaport/mediaport/vmprx/internal/gate": true,
		"github.com/mediaport/mediaport/vmprx":               false,
		"github.com/mediaport/mediaport":                     false,
		"github.com/pion/dtls/v3/internal/ciphersuite":       false,
		"github.com/mediaport/mediaportinternal/x":           false,
	} {
		if got := isInternal(path); got != want {
			t.Errorf("isInternal(%q) = %v, want %v", path, got, want)
		}
	}
}
