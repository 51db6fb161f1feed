package turn_test

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/stun"
	"github.com/mediaport/mediaport/turn"
)

// TestCheckAlternate: the redirections an allocation follows and those it
// refuses.
func TestCheckAlternate(t *testing.T) {
	pub4 := netip.MustParseAddrPort("203.0.113.1:3478")
	pub6 := netip.MustParseAddrPort("[2001:db8::1]:3478")
	loop := netip.MustParseAddrPort("127.0.0.1:3478")
	for _, c := range []struct {
		server, alt string
		ok          bool
	}{
		{pub4.String(), "198.51.100.7:3478", true},
		{pub4.String(), "10.0.0.1:3478", true},
		{pub6.String(), "[2001:db8::2]:3478", true},
		{loop.String(), "127.0.0.2:3479", true},
		{pub4.String(), "[2001:db8::2]:3478", false},         // another family
		{pub6.String(), "198.51.100.7:3478", false},          // another family
		{pub4.String(), "[::ffff:198.51.100.7]:3478", false}, // IPv6 attribute
		{pub4.String(), "0.0.0.0:3478", false},
		{pub6.String(), "[::]:3478", false},
		{pub4.String(), "198.51.100.7:0", false},
		{pub4.String(), "224.0.0.1:3478", false},
		{pub6.String(), "[ff02::1]:3478", false},
		{pub4.String(), "255.255.255.255:3478", false},
		{pub4.String(), "169.254.1.1:3478", false},
		{pub6.String(), "[fe80::1]:3478", false},
		{pub4.String(), "127.0.0.1:3478", false}, // loopback named by a server elsewhere
		{pub6.String(), "[::1]:3478", false},
	} {
		err := turn.CheckAlternate(netip.MustParseAddrPort(c.server), netip.MustParseAddrPort(c.alt))
		if (err == nil) != c.ok || err != nil && !errors.Is(err, turn.ErrAlternateServer) {
			t.Errorf("server %s, alternate %s: %v", c.server, c.alt, err)
		}
	}
}

// anyRedirector answers every Allocate with 300 and an ALTERNATE-SERVER
// holding alt, of either family.
func anyRedirector(t *testing.T, alt netip.AddrPort) (netip.AddrPort, *atomic.Int32) {
	tr, err := stun.ListenUDP(netip.AddrPortFrom(lo, 0))
	if err != nil {
		t.Fatal(err)
	}
	n := new(atomic.Int32)
	s, _ := stun.Create(stun.Config{}, "redirector", stun.Callbacks{OnSendMsg: tr.Send,
		OnRxRequest: func(s *stun.Session, _ []byte, rdata *stun.RxData, token any, src netip.AddrPort) error {
			n.Add(1)
			res, err := s.CreateRes(rdata, 300, "")
			if err != nil {
				return err
			}
			v := []byte{0, 1, byte(alt.Port() >> 8), byte(alt.Port())}
			if alt.Addr().Is4() {
				ip := alt.Addr().As4()
				v = append(v, ip[:]...)
			} else {
				v[1] = 2
				ip := alt.Addr().As16()
				v = append(v, ip[:]...)
			}
			res.Add(pionstun.AttrAlternateServer, v)
			return s.SendMsg(token, false, false, src, res)
		}}, false)
	tr.Serve(s)
	t.Cleanup(func() { s.Destroy(); tr.Close() })
	return tr.LocalAddr(), n
}

// TestAlternateServerRefused: an ALTERNATE-SERVER of another family, not
// unicast, or with port 0 fails the allocation with ErrAlternateServer,
// and nothing is sent to it (the allocation's server stays the first).
func TestAlternateServerRefused(t *testing.T) {
	mod := openModule(t, nil)
	for _, alt := range []string{"[::1]:3478", "0.0.0.0:3478", "127.0.0.1:0", "224.0.0.1:3478", "255.255.255.255:3478", "169.254.0.1:3478"} {
		srv, n := anyRedirector(t, netip.MustParseAddrPort(alt))
		a, _ := turn.Create(mod)
		a.Config(turn.Config{Server: srv, Username: "u", Password: "p", Local: netip.AddrPortFrom(lo, 0)})
		st, err := waitStatus(t, a, turn.Allocated, testutil.Patience)
		if st != turn.Failed || !errors.Is(err, turn.ErrAlternateServer) {
			t.Errorf("alternate %s: %v %v", alt, st, err)
		}
		if a.Server() != srv || n.Load() != 1 {
			t.Errorf("alternate %s: server %v, %d Allocates", alt, a.Server(), n.Load())
		}
		a.Destroy()
	}
}

// TestKeepaliveDetectsDeadServer: on the fake clock, an allocation whose
// server (the embedded pion/turn) dies is Failed with stun.ErrTimeout
// within Keepalive + 79 RTOs (37.9 s with the defaults), not at the next
// refresh near the end of its 600 s lifetime.
func TestKeepaliveDetectsDeadServer(t *testing.T) {
	p := testutil.StartPionTURN(t)
	clk := clock.NewFake(time.Now())
	mod := openModule(t, clk)
	a, _ := turn.Create(mod)
	defer a.Destroy()
	a.Config(turn.Config{Server: p.Addr, Username: p.User, Password: p.Password, Local: netip.AddrPortFrom(lo, 0)})
	if st, err := waitStatus(t, a, turn.Allocated, testutil.Patience); st != turn.Allocated {
		t.Fatalf("%v %v", st, err)
	}
	if a.Lifetime() != 600*time.Second {
		t.Fatalf("lifetime %v", a.Lifetime())
	}
	p.Close()
	start := clk.Now()
	bound := turn.DefaultKeepalive + 79*100*time.Millisecond
	for clk.Now().Sub(start) <= bound {
		clk.Advance(100 * time.Millisecond)
		if st, _ := a.Status(); st == turn.Failed {
			break
		}
	}
	st, _ := a.Status()
	lost := clk.Now().Sub(start)
	t.Logf("server dead: allocation %v after %v (lifetime 600 s): %v", st, lost, a.Err())
	if st != turn.Failed || !errors.Is(a.Err(), stun.ErrTimeout) {
		t.Fatalf("%v after %v of a dead server: %v", st, lost, a.Err())
	}
	if lost < turn.DefaultKeepalive {
		t.Fatalf("failed after %v, before the first keepalive", lost)
	}
}

// TestKeepaliveDetectsRestart: coturn killed and restarted on the same port
// forgets the allocation; the next keepalive Refresh (after the automatic
// retry on the new server's 438) gets 437 Allocation Mismatch and the
// allocation is Failed with it, Keepalive (30 s of the fake clock) after
// the restart rather than near the end of the 600 s lifetime. The server
// answers in real time; the clock moves only by the keepalive, and by one
// RTO when nothing has happened for a second of real time (a datagram lost
// on loopback is then retransmitted).
func TestKeepaliveDetectsRestart(t *testing.T) {
	if _, err := exec.LookPath("turnserver"); err != nil && !testutil.RequirePeers() {
		t.Skip("turnserver not installed")
	}
	c := testutil.StartCoturn(t, testutil.CoturnOptions{})
	clk := clock.NewFake(time.Now())
	mod := openModule(t, clk)
	a, _ := turn.Create(mod)
	defer a.Destroy()
	a.Config(turn.Config{Server: c.Addr, Username: c.User, Password: c.Password, Local: netip.AddrPortFrom(lo, 0)})
	if st, err := waitStatus(t, a, turn.Allocated, testutil.Patience); st != turn.Allocated {
		t.Fatalf("%v %v\n%s", st, err, c.Log())
	}
	peer := echoPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if err := a.CreatePermission(ctx, peer.Addr()); err != nil {
		t.Fatal(err)
	}
	c.Restart(t)
	start := clk.Now()
	clk.Advance(turn.DefaultKeepalive)
	deadline := time.Now().Add(testutil.Patience)
	last := time.Now()
	for {
		st, _ := a.Status()
		if st == turn.Failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %v %v after the restart\n%s", st, clk.Now().Sub(start), c.Log())
		}
		if time.Since(last) > time.Second {
			clk.Advance(100 * time.Millisecond)
			last = time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	lost := clk.Now().Sub(start)
	err := a.Err()
	t.Logf("coturn restarted: allocation Failed after %v of the clock (lifetime 600 s): %v", lost, err)
	var se *stun.StatusError
	if !errors.As(err, &se) || se.Code != 437 {
		t.Fatalf("failed with %v, want 437 Allocation Mismatch\n%s", err, c.Log())
	}
	if lost >= 60*time.Second {
		t.Fatalf("loss known after %v of the clock", lost)
	}
	if err := a.SendTo(peer, []byte("x")); !errors.Is(err, turn.ErrNotAllocated) {
		t.Fatalf("SendTo on a lost allocation: %v", err)
	}
}
