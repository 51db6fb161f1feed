package turn

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/stunwire"
)

// TestZeroRequestKeepsTheAllocation: a zero Request sends no LIFETIME
// (libnice's -1), so a zero Refresh refreshes instead of deleting the
// allocation; LIFETIME 0 is sent only with Delete, whatever Lifetime
// holds; a positive Lifetime is sent as is. BANDWIDTH: zero sends none.
func TestZeroRequestKeepsTheAllocation(t *testing.T) {
	for c := RFC5766; c <= OC2007; c++ {
		for _, tc := range []struct {
			name string
			r    Request
			want []byte // the LIFETIME value, nil: absent
		}{
			{"zero", Request{}, nil},
			{"libnice -1", Request{Lifetime: -1}, nil},
			{"600 s", Request{Lifetime: 600}, u32(600)},
			{"Delete", Request{Delete: true}, u32(0)},
			{"Delete with a lifetime", Request{Delete: true, Lifetime: 600}, u32(0)},
		} {
			tc.r.Username, tc.r.Password = []byte("alice"), []byte("secret")
			for _, build := range []struct {
				name string
				f    func([]byte, Request, Compatibility) ([]byte, error)
			}{{"Allocate", NewAllocate}, {"Refresh", NewRefresh}} {
				b, err := build.f(nil, tc.r, c)
				if err != nil {
					t.Fatal(err)
				}
				m := parse(t, b, c)
				v, ok := m.Get(stunwire.AttrLifetime)
				if ok != (tc.want != nil) || !bytes.Equal(v, tc.want) {
					t.Errorf("%v %s %s: LIFETIME % x (present %v), want % x", c, tc.name, build.name, v, ok, tc.want)
				}
				if v, ok := m.Get(stunwire.AttrBandwidth); ok {
					t.Errorf("%v %s %s: BANDWIDTH % x from a zero Bandwidth", c, tc.name, build.name, v)
				}
			}
		}
	}
}

// TestSetLibniceLifetime maps libnice's lifetime argument.
func TestSetLibniceLifetime(t *testing.T) {
	for _, tc := range []struct {
		in       int32
		lifetime int32
		del      bool
	}{{-1, 0, false}, {-7, 0, false}, {0, 0, true}, {600, 600, false}} {
		r := Request{Lifetime: 99, Delete: !tc.del}
		r.SetLibniceLifetime(tc.in)
		if r.Lifetime != tc.lifetime || r.Delete != tc.del {
			t.Errorf("libnice %d: Lifetime %d Delete %v, want %d %v", tc.in, r.Lifetime, r.Delete, tc.lifetime, tc.del)
		}
	}
}

// TestLibniceCompatibilityNumbers: the numbers of the C enum, in the
// order stun/usages/turn.h declares them, both ways; anything else is
// refused. (The differential tests pass c.Libnice() to libnice itself.)
func TestLibniceCompatibilityNumbers(t *testing.T) {
	want := []Compatibility{DRAFT9, GOOGLE, MSN, OC2007, RFC5766}
	for n, c := range want {
		got, err := CompatibilityFromLibnice(n)
		if err != nil || got != c {
			t.Errorf("CompatibilityFromLibnice(%d) = %v, %v; want %v", n, got, err, c)
		}
		if c.Libnice() != n {
			t.Errorf("%v.Libnice() = %d, want %d", c, c.Libnice(), n)
		}
	}
	for _, n := range []int{-1, 5, 1 << 20} {
		if _, err := CompatibilityFromLibnice(n); !errors.Is(err, ErrLibniceValue) || !errors.Is(err, mediaport.ErrInvalidArgument) {
			t.Errorf("CompatibilityFromLibnice(%d): %v", n, err)
		}
	}
	if n := Compatibility(9).Libnice(); n != -1 {
		t.Errorf("Compatibility(9).Libnice() = %d", n)
	}
}
