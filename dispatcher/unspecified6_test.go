package dispatcher_test

import (
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport/dispatcher"
)

// TestUnspecifiedIPv6Source: an IPv6 destination with a zero Local, or
// Local = [::]:0 (Prosody's unspecified source address and port 0), binds
// the IPv6 unspecified address on an allocated port; datagrams reach an
// IPv6 receiver from that port, with the TOS as traffic class; a given
// port with the unspecified address is used.
func TestUnspecifiedIPv6Source(t *testing.T) {
	for _, tc := range []struct {
		name  string
		local netip.AddrPort
	}{
		{"zero Local", netip.AddrPort{}},
		{"[::]:0", netip.AddrPortFrom(netip.IPv6Unspecified(), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := openModule(t)
			r := receiver(t, netip.IPv6Loopback())
			d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: tc.local, TOS: 0x88})
			if err != nil {
				t.Fatal(err)
			}
			local, err := d.LocalAddr()
			if err != nil || !local.Addr().IsUnspecified() || !local.Addr().Is6() || local.Addr().Is4In6() || local.Port() == 0 {
				t.Fatalf("LocalAddr = %v, %v: want [::] with an allocated port", local, err)
			}
			if err := d.Send([]byte("v6")); err != nil {
				t.Fatal(err)
			}
			got := recv(t, r)
			if string(got.data) != "v6" || got.src.Port() != local.Port() || got.src.Addr() != netip.IPv6Loopback() || got.tos != 0x88 {
				t.Fatalf("received %q from %v tclass %#x; LocalAddr %v", got.data, got.src, got.tos, local)
			}
		})
	}
	t.Run("[::] with a port", func(t *testing.T) {
		mod := openModule(t)
		r := receiver(t, netip.IPv6Loopback())
		probe := receiver(t, netip.IPv6Loopback()) // a free port, released below
		port := probe.LocalAddr().Port()
		probe.Close()
		want := netip.AddrPortFrom(netip.IPv6Unspecified(), port)
		d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: want})
		if err != nil {
			t.Fatal(err)
		}
		if local, _ := d.LocalAddr(); local != want {
			t.Fatalf("LocalAddr = %v, want %v", local, want)
		}
		d.Send([]byte("p"))
		if got := recv(t, r); got.src.Port() != port {
			t.Fatalf("received from %v, want port %d", got.src, port)
		}
	})
}
