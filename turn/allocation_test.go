package turn_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	pionstun "github.com/pion/stun/v3"
	"go.uber.org/goleak"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/stun"
	"github.com/mediaport/mediaport/turn"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var lo = netip.MustParseAddr("127.0.0.1")

// server is a TURN server for a test: coturn or the in-process pion/turn.
type server struct {
	name       string
	addr       netip.AddrPort
	user, pass string
	stop       func()
	log        func() string
}

func servers(t *testing.T) []server {
	p := testutil.StartPionTURN(t)
	out := []server{{name: "pion", addr: p.Addr, user: p.User, pass: p.Password, stop: func() { p.Close() }, log: func() string { return "" }}}
	if _, err := exec.LookPath("turnserver"); err == nil || testutil.RequirePeers() {
		c := testutil.StartCoturn(t, testutil.CoturnOptions{})
		out = append(out, server{name: "coturn", addr: c.Addr, user: c.User, pass: c.Password, stop: c.Stop, log: c.Log})
	}
	return out
}

func openModule(t testing.TB, clk mediaport.Clock) *mediaport.Module {
	mod, err := mediaport.OpenModule(mediaport.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	return mod
}

// waitStatus waits until the allocation reports want (or a final status);
// with a final status it returns Err, why the allocation ended.
func waitStatus(t testing.TB, a *turn.Allocation, want turn.Status, limit time.Duration) (turn.Status, error) {
	t.Helper()
	ev, _ := a.Event()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		st, err := a.Status()
		if err != nil {
			t.Fatalf("Status: %v (its error means only that the call failed)", err)
		}
		if st == turn.Failed || st == turn.Stopped {
			return st, a.Err()
		}
		if st == want {
			return st, nil
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatalf("waiting for %v: last %v", want, st)
		}
	}
}

// echoPeer is a UDP peer that sends back what it receives.
func echoPeer(t testing.TB) netip.AddrPort {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, src, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(buf[:n], src)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func read(t testing.TB, a *turn.Allocation, limit time.Duration) (string, netip.AddrPort) {
	t.Helper()
	ev, _ := a.Event()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	buf := make([]byte, 2048)
	for {
		n, peer, err := a.GetPacket(buf)
		if err == nil {
			return string(buf[:n]), peer
		}
		if !errors.Is(err, turn.ErrNoPacket) {
			t.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			st, serr := a.Status()
			t.Fatalf("no data from the peer (status %v %v)", st, serr)
		}
	}
}

// TestAllocationRoundTrip: against coturn and pion/turn — allocate,
// permission, Send indication round trip, channel bind, ChannelData round
// trip, Stop.
func TestAllocationRoundTrip(t *testing.T) {
	for _, srv := range servers(t) {
		t.Run(srv.name, func(t *testing.T) {
			mod := openModule(t, nil)
			a, err := turn.Create(mod)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Config(turn.Config{Server: srv.addr, Username: srv.user, Password: srv.pass, Local: netip.AddrPortFrom(lo, 0)}); err != nil {
				t.Fatal(err)
			}
			if st, err := waitStatus(t, a, turn.Allocated, testutil.Patience); st != turn.Allocated {
				t.Fatalf("status %v %v\n%s", st, err, srv.log())
			}
			relay, _ := a.RelayedAddr()
			mapped, _ := a.MappedAddr()
			local, _ := a.LocalAddr()
			if !relay.Addr().IsLoopback() || relay.Port() == 0 || mapped != local {
				t.Fatalf("relayed %v mapped %v local %v", relay, mapped, local)
			}
			if a.Lifetime() <= 0 {
				t.Fatal("no lifetime")
			}
			peer := echoPeer(t)
			if srv.name == "coturn" {
				peer = testutil.StartTurnutilsPeer(t) // coturn's own echo peer
			}
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
			defer cancel()
			if err := a.CreatePermission(ctx, peer.Addr()); err != nil {
				t.Fatalf("CreatePermission: %v\n%s", err, srv.log())
			}
			if err := a.SendTo(peer, []byte("via send indication")); err != nil {
				t.Fatal(err)
			}
			if got, from := read(t, a, testutil.Patience); got != "via send indication" || from != peer {
				t.Fatalf("Data indication %q from %v", got, from)
			}
			ch, err := a.ChannelBind(ctx, peer)
			if err != nil || ch < turn.MinChannel || ch > turn.MaxChannel {
				t.Fatalf("ChannelBind = %#x, %v\n%s", ch, err, srv.log())
			}
			for i := 0; i < 10; i++ {
				msg := []byte("via channel data " + string(rune('0'+i)))
				if err := a.SendTo(peer, msg); err != nil {
					t.Fatal(err)
				}
				if got, from := read(t, a, testutil.Patience); got != string(msg) || from != peer {
					t.Fatalf("ChannelData %q from %v", got, from)
				}
			}
			st, err := a.Stats()
			wantBytes := uint64(len("via send indication") + 10*len("via channel data 0"))
			if err != nil || st.Packets != 11 || st.Bytes != wantBytes || st.SentPackets != 11 || st.SentBytes != wantBytes || st.SendErrors != 0 {
				t.Fatalf("stats %+v, %v: want 11 packets of %d bytes each way", st, err, wantBytes)
			}
			// A datagram from elsewhere than the server is dropped and counted.
			stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer stranger.Close()
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				// Sent again until counted: loopback may drop a datagram.
				if _, err := stranger.WriteToUDPAddrPort([]byte{0x40, 0, 0, 1, 'x'}, local); err != nil {
					t.Fatal(err)
				}
				if st, _ := a.Stats(); st.Foreign >= 1 && st.Packets == 11 {
					break
				}
				if time.Now().After(deadline) {
					st, _ := a.Stats()
					t.Fatalf("stats %+v: want the stranger's datagram counted as Foreign", st)
				}
			}
			testutil.NoAllocs(t, "SendTo over a bound channel", func() { a.SendTo(peer, []byte("x")) })
			ev, _ := a.Event()
			if err := a.Stop(); err != nil {
				t.Fatal(err)
			}
			if st, _ := a.Status(); st != turn.Stopped || !ev.Permanent() {
				t.Fatalf("after Stop: %v", st)
			}
			if err := a.SendTo(peer, []byte("late")); !errors.Is(err, mediaport.ErrStopped) {
				t.Fatalf("SendTo after Stop: %v", err)
			}
			a.Destroy()
			if _, err := a.Status(); !errors.Is(err, mediaport.ErrDestroyed) {
				t.Fatalf("after Destroy: %v", err)
			}
		})
	}
}

// TestWrongPassword: the allocation fails, the STUN error code reachable
// with errors.As (coturn: 401 after the automatic retry; pion/turn answers
// 400).
func TestWrongPassword(t *testing.T) {
	for _, srv := range servers(t) {
		t.Run(srv.name, func(t *testing.T) {
			mod := openModule(t, nil)
			a, _ := turn.Create(mod)
			a.Config(turn.Config{Server: srv.addr, Username: srv.user, Password: "wrong", Local: netip.AddrPortFrom(lo, 0)})
			st, err := waitStatus(t, a, turn.Allocated, testutil.Patience)
			var se *stun.StatusError
			want := 401
			if srv.name == "pion" {
				want = 400
			}
			if st != turn.Failed || !errors.As(err, &se) || se.Code != want {
				t.Fatalf("wrong password: %v %v, want Failed with %d", st, err, want)
			}
			if _, err := a.RelayedAddr(); !errors.Is(err, turn.ErrNotAllocated) {
				t.Fatalf("RelayedAddr after failure: %v", err)
			}
		})
	}
}

// TestRefreshAndServerDeath runs on a fake clock: the allocation is
// refreshed a minute before it expires, its permission and channel before
// theirs; when the server dies the next refresh times out and the
// allocation fails at the end of the retransmission schedule.
//
// The servers answer on real time. With an RTO of an hour (of the fake
// clock) a refresh never times out while its answer is on the way, and
// after each step the test waits until every transaction has completed,
// moving the clock by less than the RTO to let them end their lingering.
func TestRefreshAndServerDeath(t *testing.T) {
	const rto = time.Hour
	for _, srv := range servers(t) {
		t.Run(srv.name, func(t *testing.T) {
			clk := clock.NewFake(time.Now())
			mod := openModule(t, clk)
			a, _ := turn.Create(mod)
			a.Config(turn.Config{Server: srv.addr, Username: srv.user, Password: srv.pass, Local: netip.AddrPortFrom(lo, 0), Lifetime: 300 * time.Second, RTO: rto})
			if st, err := waitStatus(t, a, turn.Allocated, testutil.Patience); st != turn.Allocated {
				t.Fatalf("%v %v", st, err)
			}
			peer := echoPeer(t)
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
			defer cancel()
			if _, err := a.ChannelBind(ctx, peer); err != nil {
				t.Fatal(err)
			}
			// Well past the lifetimes of the allocation (300 s), the
			// permission (300 s) and the channel (600 s): refreshes keep it.
			settle := func() {
				t.Helper()
				testutil.Eventually(t, testutil.Patience, func() bool {
					clk.Advance(time.Second) // ends lingering; far from any retransmission
					return turn.Transactions(a) == 0
				}, "STUN transactions still in progress\n%s", srv.log())
			}
			for i := 0; i < 25; i++ {
				clk.Advance(30 * time.Second)
				settle()
			}
			if st, _ := a.Status(); st == turn.Failed {
				t.Fatalf("allocation lost despite refreshes: %v\n%s", a.Err(), srv.log())
			}
			a.SendTo(peer, []byte("after 750s"))
			if got, _ := read(t, a, testutil.Patience); got != "after 750s" {
				t.Fatalf("channel after refreshes: %q", got)
			}
			// The server dies; the next refresh cannot be answered: it
			// times out after 79 RTOs (RFC 8489 §6.2.1: Rc 7, Rm 16).
			srv.stop()
			deadline := time.Now().Add(testutil.Patience)
			for {
				clk.Advance(rto)
				st, err := a.Status()
				if err != nil {
					t.Fatal(err)
				}
				if st == turn.Failed {
					if err := a.Err(); !errors.Is(err, stun.ErrTimeout) {
						t.Fatalf("failed with %v, want a timeout", err)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still %v after the server died", st)
				}
			}
		})
	}
}

// TestAlternateServer: a server that answers Allocate with 300 and
// ALTERNATE-SERVER is followed once, to a real TURN server.
func TestAlternateServer(t *testing.T) {
	real := testutil.StartPionTURN(t)
	redirect, tr, allocs := redirector(t, real.Addr)
	defer redirect.Destroy()
	defer tr.Close()
	mod := openModule(t, nil)
	a, _ := turn.Create(mod)
	a.Config(turn.Config{Server: tr.LocalAddr(), Username: real.User, Password: real.Password, Local: netip.AddrPortFrom(lo, 0)})
	if st, err := waitStatus(t, a, turn.Allocated, testutil.Patience); st != turn.Allocated {
		t.Fatalf("via the alternate: %v %v", st, err)
	}
	if a.Server() != real.Addr || allocs.Load() != 1 {
		t.Fatalf("server %v, redirector saw %d Allocates", a.Server(), allocs.Load())
	}
	// A second 300 (from the alternate) is not followed: ends in Failed.
	redirect2, tr2, _ := redirector(t, tr.LocalAddr())
	defer redirect2.Destroy()
	defer tr2.Close()
	b, _ := turn.Create(mod)
	b.Config(turn.Config{Server: tr2.LocalAddr(), Username: "u", Password: "p", Local: netip.AddrPortFrom(lo, 0)})
	st, err := waitStatus(t, b, turn.Allocated, testutil.Patience)
	var se *stun.StatusError
	if st != turn.Failed || !errors.As(err, &se) || se.Code != 300 {
		t.Fatalf("two redirections: %v %v", st, err)
	}
}

// redirector is a STUN server that answers every Allocate with 300 and
// ALTERNATE-SERVER alt.
func redirector(t *testing.T, alt netip.AddrPort) (*stun.Session, *stun.UDPTransport, *atomic.Int32) {
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
			ip := alt.Addr().As4()
			res.Add(pionstun.AttrAlternateServer, append(v, ip[:]...))
			return s.SendMsg(token, false, false, src, res)
		}}, false)
	tr.Serve(s)
	return s, tr, n
}

// TestStopDeallocates: Stop sends a Refresh with LIFETIME 0.
func TestStopDeallocates(t *testing.T) {
	real := testutil.StartPionTURN(t)
	mod := openModule(t, nil)
	a, _ := turn.Create(mod)
	// A relay in front of the server records what the client sends.
	seen := make(chan []byte, 16)
	front := recordingProxy(t, real.Addr, seen)
	a.Config(turn.Config{Server: front, Username: real.User, Password: real.Password, Local: netip.AddrPortFrom(lo, 0)})
	if st, err := waitStatus(t, a, turn.Allocated, testutil.Patience); st != turn.Allocated {
		t.Fatalf("%v %v", st, err)
	}
	a.Stop()
	deadline := time.After(testutil.Patience)
	for {
		select {
		case p := <-seen:
			m := &pionstun.Message{Raw: p}
			if m.Decode() != nil || m.Type != pionstun.NewType(pionstun.MethodRefresh, pionstun.ClassRequest) {
				continue
			}
			if v, err := m.Get(pionstun.AttrLifetime); err == nil && bytes.Equal(v, []byte{0, 0, 0, 0}) {
				return
			}
		case <-deadline:
			t.Fatal("no Refresh with LIFETIME 0 after Stop")
		}
	}
}

// recordingProxy forwards between one client and server, copying what the
// client sends to seen.
func recordingProxy(t *testing.T, server netip.AddrPort, seen chan<- []byte) netip.AddrPort {
	front, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	back, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	var client netip.AddrPort
	clientSet := make(chan struct{})
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 65536)
		first := true
		for {
			n, src, err := front.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if first {
				client, first = src, false
				close(clientSet)
			}
			select {
			case seen <- bytes.Clone(buf[:n]):
			default:
			}
			back.WriteToUDPAddrPort(buf[:n], server)
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 65536)
		for {
			n, _, err := back.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			<-clientSet
			front.WriteToUDPAddrPort(buf[:n], client)
		}
	}()
	t.Cleanup(func() { front.Close(); back.Close(); <-done; <-done })
	return front.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestRelayPathNoAllocs: a round trip over a bound channel through coturn
// (out of process, so the count is the client's alone) allocates nothing:
// SendTo, the receive goroutine, the queue, GetPacket.
func TestRelayPathNoAllocs(t *testing.T) {
	c := testutil.StartCoturn(t, testutil.CoturnOptions{})
	peer := testutil.StartTurnutilsPeer(t)
	mod := openModule(t, nil)
	a, _ := turn.Create(mod)
	a.Config(turn.Config{Server: c.Addr, Username: c.User, Password: c.Password, Local: netip.AddrPortFrom(lo, 0)})
	if st, err := waitStatus(t, a, turn.Allocated, testutil.Patience); st != turn.Allocated {
		t.Fatal(st, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if _, err := a.ChannelBind(ctx, peer); err != nil {
		t.Fatal(err)
	}
	ev, _ := a.Event()
	evc := ev.C()
	payload := make([]byte, 1200)
	buf := make([]byte, 2048)
	roundTrip := func() {
		if err := a.SendTo(peer, payload); err != nil {
			t.Fatal(err)
		}
		for {
			if n, _, err := a.GetPacket(buf); err == nil {
				if n != len(payload) {
					t.Fatalf("%d bytes", n)
				}
				return
			}
			<-evc // bounded by the test timeout; a timer here would allocate
		}
	}
	for i := 0; i < 50; i++ {
		roundTrip()
	}
	testutil.NoAllocs(t, "relayed round trip", roundTrip)
}

// TestAllocationMisuse: every misuse returns an error errors.Is can match,
// and nothing panics.
func TestAllocationMisuse(t *testing.T) {
	var nilA *turn.Allocation
	if _, err := nilA.Status(); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Errorf("nil Status: %v", err)
	}
	if err := nilA.Config(turn.Config{}); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Errorf("nil Config: %v", err)
	}
	if err := nilA.SendTo(netip.MustParseAddrPort("127.0.0.1:9"), []byte("x")); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Errorf("nil SendTo: %v", err)
	}
	if err := nilA.Destroy(); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Errorf("nil Destroy: %v", err)
	}
	if _, err := turn.Create(nil); !errors.Is(err, mediaport.ErrNilModule) {
		t.Errorf("Create(nil): %v", err)
	}

	mod := openModule(t, nil)
	srv := netip.MustParseAddrPort("127.0.0.1:3478")
	for _, c := range []struct {
		name string
		cfg  turn.Config
		want error
	}{
		{"no server", turn.Config{}, mediaport.ErrInvalidArgument},
		{"port 0", turn.Config{Server: netip.AddrPortFrom(lo, 0)}, mediaport.ErrInvalidArgument},
		{"family", turn.Config{Server: srv, Local: netip.MustParseAddrPort("[::1]:0")}, mediaport.ErrAddressFamily},
		{"GOOGLE", turn.Config{Server: srv, Compatibility: turn.GOOGLE}, turn.ErrCompatibility},
		{"DRAFT9", turn.Config{Server: srv, Compatibility: turn.DRAFT9}, turn.ErrCompatibility},
		{"unknown dialect", turn.Config{Server: srv, Compatibility: 42}, turn.ErrCompatibility},
	} {
		a, err := turn.Create(mod)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Config(c.cfg); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err := a.Destroy(); err != nil {
			t.Fatal(err)
		}
	}

	// Before Config: nothing to send, no addresses.
	a, _ := turn.Create(mod)
	if err := a.SendTo(netip.MustParseAddrPort("127.0.0.1:9"), []byte("x")); err == nil {
		t.Error("SendTo before Config succeeded")
	}
	if _, err := a.RelayedAddr(); err == nil {
		t.Error("RelayedAddr before Config succeeded")
	}
	// A second Config is a state error.
	p := testutil.StartPionTURN(t)
	cfg := turn.Config{Server: p.Addr, Username: p.User, Password: p.Password, Local: netip.AddrPortFrom(lo, 0)}
	if err := a.Config(cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.Config(cfg); !errors.Is(err, mediaport.ErrState) {
		t.Errorf("second Config: %v", err)
	}
	if err := a.Destroy(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Status":  func() error { _, err := a.Status(); return err }(),
		"SendTo":  a.SendTo(netip.MustParseAddrPort("127.0.0.1:9"), []byte("x")),
		"Stop":    a.Stop(),
		"Destroy": a.Destroy(),
		"Event":   func() error { _, err := a.Event(); return err }(),
	} {
		if !errors.Is(err, mediaport.ErrDestroyed) {
			t.Errorf("%s after Destroy: %v", name, err)
		}
	}
	p.Close()
}
