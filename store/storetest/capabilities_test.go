package storetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/store/mem"
)

// Every interface of package store that a driver may add to store.Store is
// in Capabilities, and Restrict builds every combination of them.
func TestCapabilitiesComplete(t *testing.T) {
	notOptional := map[string]bool{"Backend": true, "Blobs": true, "Store": true, "Durable": true}
	files, err := filepath.Glob(filepath.Join("..", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range Capabilities {
		listed[c.Name] = true
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			if _, isIface := ts.Type.(*ast.InterfaceType); isIface && ts.Name.IsExported() && !notOptional[ts.Name.Name] && !listed[ts.Name.Name] {
				t.Errorf("store.%s is not in storetest.Capabilities: decorators are not checked to keep it", ts.Name.Name)
			}
			return true
		})
	}
	for mask := range 1 << len(Capabilities) {
		got := CapabilitiesOf(Restrict(mem.New(), mask))
		if len(got) != popcount(mask) {
			t.Fatalf("Restrict(%b) has %v", mask, got)
		}
	}
}

func popcount(m int) int {
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return n
}
