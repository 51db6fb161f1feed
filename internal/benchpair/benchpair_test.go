package benchpair

import (
	"slices"
	"testing"
)

// TestOrder: OrderEnv decides which side runs first.
func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want []string
	}{
		{"", []string{"mediaport", "baseline"}},
		{BaselineFirst, []string{"baseline", "mediaport"}},
	} {
		t.Setenv(OrderEnv, tc.env)
		var ran []string
		side := func(name string) func(*testing.B) {
			return func(b *testing.B) {
				if !slices.Contains(ran, name) {
					ran = append(ran, name)
				}
			}
		}
		testing.Benchmark(func(b *testing.B) { Run(b, side("mediaport"), side("baseline")) })
		if !slices.Equal(ran, tc.want) {
			t.Errorf("%s=%q: ran %v, want %v", OrderEnv, tc.env, ran, tc.want)
		}
	}
}
