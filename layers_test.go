package mediaport_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLayersListEveryPackage: ARCHITECTURE.md's layer box names every
// package of the module (examples/... for the example programs), and no
// package that does not exist.
func TestLayersListEveryPackage(t *testing.T) {
	doc, err := os.ReadFile("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "```\n")
	end := strings.Index(text[start+4:], "```\n")
	if start < 0 || end < 0 {
		t.Fatal("ARCHITECTURE.md has no layer box")
	}
	boxed := map[string]bool{}
	for _, line := range strings.Split(text[start+4:start+4+end], "\n") {
		// The names come before the description, which is two or more
		// spaces away; a description may name more ("x: ...").
		names, desc, _ := strings.Cut(strings.TrimSpace(line), "  ")
		for _, f := range strings.Fields(names) {
			boxed[f] = true
		}
		if _, more, ok := strings.Cut(desc, "; "); ok {
			if n, _, ok := strings.Cut(more, ":"); ok {
				boxed[strings.TrimSpace(n)] = true
			}
		}
	}
	out, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	listed := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		p = strings.TrimPrefix(strings.TrimPrefix(p, "github.com/mediaport/mediaport"), "/")
		switch {
		case p == "":
			p = "mediaport"
		case p == "examples" || strings.HasPrefix(p, "examples/"):
			p = "examples/..."
		}
		listed[p] = true
		if !boxed[p] {
			t.Errorf("package %s is missing from ARCHITECTURE.md's layer box", p)
		}
	}
	for p := range boxed {
		if !listed[p] && p != "(root)" {
			t.Errorf("ARCHITECTURE.md's layer box names %s, which go list does not", p)
		}
	}
}
