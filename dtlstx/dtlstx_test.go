package dtlstx_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/vmprx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var lo4 = netip.MustParseAddr("127.0.0.1")

func openModule(t testing.TB) *mediaport.Module {
	t.Helper()
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	return mod
}

func listen(t testing.TB, addr netip.Addr) *udp.Conn {
	t.Helper()
	c, err := udp.Listen(netip.AddrPortFrom(addr, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recvFrom(t testing.TB, c *udp.Conn) (string, netip.AddrPort) {
	t.Helper()
	c.UDPConn().SetReadDeadline(time.Now().Add(testutil.Patience))
	buf := make([]byte, 2048)
	n, src, err := c.UDPConn().ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return string(buf[:n]), src
}

func TestConfigAndSend(t *testing.T) {
	for _, loop := range []netip.Addr{lo4, netip.IPv6Loopback()} {
		mod := openModule(t)
		peer := listen(t, loop)
		tx, err := dtlstx.Create(mod)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.SendPacket([]byte("early")); !errors.Is(err, mediaport.ErrState) {
			t.Fatalf("SendPacket before Config: %v", err)
		}
		if err := tx.Config(dtlstx.Config{Destination: peer.LocalAddr()}); err != nil {
			t.Fatal(err)
		}
		local, _ := tx.LocalAddr()
		if err := tx.SendPacket([]byte("record")); err != nil {
			t.Fatal(err)
		}
		if got, src := recvFrom(t, peer); got != "record" || src.Port() != local.Port() {
			t.Fatalf("%v: received %q from %v, tx local %v", loop, got, src, local)
		}
		if shared, _ := tx.SharesSocket(); shared {
			t.Fatal("own socket reported as shared")
		}
		// Move the destination; the socket stays.
		peer2 := listen(t, loop)
		if err := tx.Config(dtlstx.Config{Destination: peer2.LocalAddr()}); err != nil {
			t.Fatal(err)
		}
		tx.SendPacket([]byte("moved"))
		if got, src := recvFrom(t, peer2); got != "moved" || src.Port() != local.Port() {
			t.Fatalf("after re-Config: %q from %v", got, src)
		}
		st, _ := tx.Stats()
		if st.Packets != 2 || st.Bytes != 11 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	mod := openModule(t)
	tx, _ := dtlstx.Create(mod)
	for _, tc := range []struct {
		cfg  dtlstx.Config
		want error
	}{
		{dtlstx.Config{Destination: netip.MustParseAddrPort("127.0.0.1:0")}, mediaport.ErrInvalidArgument},
		{dtlstx.Config{Destination: netip.MustParseAddrPort("127.0.0.1:9"), Local: netip.MustParseAddrPort("[::1]:0")}, mediaport.ErrAddressFamily},
		{dtlstx.Config{Destination: netip.MustParseAddrPort("[::1]:9"), Local: netip.MustParseAddrPort("127.0.0.1:0")}, mediaport.ErrAddressFamily},
	} {
		if err := tx.Config(tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("Config(%+v) = %v, want %v", tc.cfg, err, tc.want)
		}
	}
}

// TestSendsFromVMPSocket: a source naming a VMP[rx]'s port sends from that
// very socket, so the peer sees the media port as the source.
func TestSendsFromVMPSocket(t *testing.T) {
	mod := openModule(t)
	v, _ := vmprx.Create(mod)
	if err := v.Config(vmprx.Config{Local: lo4}); err != nil {
		t.Fatal(err)
	}
	rtp, rtcp, _ := v.Ports()
	peer := listen(t, lo4)
	for _, src := range []netip.AddrPort{rtp, rtcp, netip.AddrPortFrom(netip.IPv4Unspecified(), rtp.Port())} {
		tx, _ := dtlstx.Create(mod)
		if err := tx.Config(dtlstx.Config{Destination: peer.LocalAddr(), Local: src}); err != nil {
			t.Fatalf("source %v: %v", src, err)
		}
		if shared, _ := tx.SharesSocket(); !shared {
			t.Fatalf("source %v: not sharing the VMP[rx] socket", src)
		}
		tx.SendPacket([]byte("from the media port"))
		if _, got := recvFrom(t, peer); got.Port() != src.Port() {
			t.Fatalf("peer saw source %v, want port %d", got, src.Port())
		}
		// Stopping the DTLS[tx] must not close the VMP[rx]'s socket.
		tx.Destroy()
	}
	if err := v.SendFrom(false, []byte("still open"), peer.LocalAddr()); err != nil {
		t.Fatalf("VMP[rx] socket closed by a DTLS[tx]: %v", err)
	}
	recvFrom(t, peer)
	tx, _ := dtlstx.Create(mod)
	tx.Config(dtlstx.Config{Destination: peer.LocalAddr(), Local: rtp})
	v.Stop()
	if err := tx.SendPacket([]byte("x")); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("send after the VMP[rx] stopped: %v", err)
	}
}

func TestConfigNotify(t *testing.T) {
	mod := openModule(t)
	peer := listen(t, lo4)
	tx, _ := dtlstx.Create(mod)
	ev, _ := tx.Event()
	// The DTLS[tx] signals synchronously, in the call that makes capacity
	// appear (or Status): whether the event is set can be read at once,
	// with no window to wait.
	signalled := func() bool {
		select {
		case <-ev.C():
			return true
		default:
			return false
		}
	}
	if err := tx.ConfigNotify(1200, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := tx.Status(); st != dtlstx.Running || signalled() {
		t.Fatalf("before Config: status %v: no capacity, no event", st)
	}
	if err := tx.Config(dtlstx.Config{Destination: peer.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	if !signalled() {
		t.Fatal("event not set when capacity appeared")
	}
	if st, _ := tx.Status(); st != dtlstx.HasCapacity {
		t.Fatalf("status %v, want HasCapacity", st)
	}
	if !signalled() {
		t.Fatal("event not set again while HasCapacity holds")
	}
	// no_capacity_event: status still reports capacity, the event stays quiet.
	if err := tx.ConfigNotify(1200, true); err != nil {
		t.Fatal(err)
	}
	for signalled() { // drain what was set before
	}
	if st, _ := tx.Status(); st != dtlstx.HasCapacity {
		t.Fatalf("status %v with no_capacity_event", st)
	}
	if signalled() {
		t.Fatal("event set for capacity with no_capacity_event")
	}
	if err := tx.ConfigNotify(70000, false); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("packet length beyond UDP: %v", err)
	}
	tx.Stop()
	if st, _ := tx.Status(); st != dtlstx.Stopped || !ev.Permanent() {
		t.Fatalf("after Stop: %v", st)
	}
}

func TestLifecycle(t *testing.T) {
	mod := openModule(t)
	peer := listen(t, lo4)
	tx, _ := dtlstx.Create(mod)
	tx.Config(dtlstx.Config{Destination: peer.LocalAddr(), Local: netip.MustParseAddrPort("127.0.0.1:0")})
	local, _ := tx.LocalAddr()
	tx.Stop()
	if err := tx.SendPacket([]byte("x")); !errors.Is(err, mediaport.ErrStopped) {
		t.Fatalf("send after Stop: %v", err)
	}
	if err := tx.Config(dtlstx.Config{Destination: peer.LocalAddr()}); !errors.Is(err, mediaport.ErrStopped) {
		t.Fatalf("Config after Stop: %v", err)
	}
	// Its own socket is closed: the port can be bound again.
	c, err := udp.Listen(local)
	if err != nil {
		t.Fatalf("DTLS[tx] socket still open after Stop: %v", err)
	}
	c.Close()
	tx.Destroy()
	_, e1 := tx.Status()
	_, e2 := tx.Event()
	_, e3 := tx.LocalAddr()
	_, e4 := tx.Stats()
	for i, err := range []error{e1, e2, e3, e4, tx.SendPacket(nil), tx.ConfigNotify(1, false), tx.Stop(), tx.Destroy()} {
		if !errors.Is(err, mediaport.ErrDestroyed) {
			t.Errorf("call %d after Destroy: %v", i, err)
		}
	}
	var nilTx *dtlstx.DTLSTx
	if err := nilTx.SendPacket(nil); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Errorf("nil: %v", err)
	}
}

func TestSendPacketNoAllocs(t *testing.T) {
	mod := openModule(t)
	peer := listen(t, lo4)
	tx, _ := dtlstx.Create(mod)
	tx.Config(dtlstx.Config{Destination: peer.LocalAddr()})
	pkt := make([]byte, 1200)
	testutil.NoAllocs(t, "SendPacket", func() { tx.SendPacket(pkt) })
}
