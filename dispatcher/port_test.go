package dispatcher_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// mediaPort configures a VMP[rx] on loopback and returns it with its ports.
func mediaPort(t testing.TB, mod *mediaport.Module, loopback netip.Addr, mux bool) (v *vmprx.VMPRx, rtp, rtcp netip.AddrPort) {
	t.Helper()
	return mediaPortConfig(t, mod, vmprx.Config{Local: loopback, RTCPMux: mux})
}

func mediaPortConfig(t testing.TB, mod *mediaport.Module, cfg vmprx.Config) (v *vmprx.VMPRx, rtp, rtcp netip.AddrPort) {
	t.Helper()
	loopback := cfg.Local
	v, err := vmprx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Config(cfg); err != nil {
		if loopback.Is6() {
			t.Skipf("IPv6 loopback unavailable: %v", err)
		}
		t.Fatal(err)
	}
	rtp, rtcp, err = v.Ports()
	if err != nil {
		t.Fatal(err)
	}
	return v, rtp, rtcp
}

// rtpPacket returns an RTP packet of n bytes (n >= 12) with sequence seq.
func rtpPacket(n int, seq uint16) []byte {
	p := make([]byte, n)
	p[0] = 0x80
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[8:], 0x11223344)
	for i := 12; i < n; i++ {
		p[i] = byte(seq) + byte(i)
	}
	return p
}

// rtcpPacket returns an RTCP receiver report without report blocks.
func rtcpPacket(ssrc uint32) []byte {
	p := []byte{0x80, 201, 0, 1, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(p[4:], ssrc)
	return p
}

// getPacket waits for the VMP[rx]'s next RTP/RTCP packet.
func getPacket(t testing.TB, v *vmprx.VMPRx) ([]byte, vmprx.Packet) {
	t.Helper()
	buf := make([]byte, 2048)
	var pkt vmprx.Packet
	testutil.Eventually(t, testutil.Patience, func() bool {
		var err error
		pkt, err = v.GetPacket(buf)
		if err != nil && !errors.Is(err, vmprx.ErrNoPacket) {
			t.Fatalf("GetPacket: %v", err)
		}
		return err == nil
	}, "no packet reached the VMP[rx]")
	return buf[:pkt.Len], pkt
}

// TestSendFromMediaPort: a dispatcher whose Local is a VMP[rx]'s port
// (RTP with rtcp-mux, RTP or RTCP without; given with the port's address
// or the unspecified one) sends from the VMP[rx]'s socket: the peer sees
// the port as the source and the dispatcher's TOS, while the VMP[rx]
// keeps receiving on it, before and after the dispatcher is destroyed.
func TestSendFromMediaPort(t *testing.T) {
	for _, tc := range []struct {
		name     string
		loopback netip.Addr
		mux      bool
		rtcpPort bool
		anyAddr  bool
		tos      int
		caller   bool // vmprx.Config.CallerReads
	}{
		{"IPv4 mux", netip.MustParseAddr("127.0.0.1"), true, false, false, 0xb8, false},
		{"IPv4 mux unspecified local", netip.MustParseAddr("127.0.0.1"), true, false, true, 0xb8, false},
		{"IPv4 RTP port", netip.MustParseAddr("127.0.0.1"), false, false, false, 0x88, false},
		{"IPv4 RTCP port", netip.MustParseAddr("127.0.0.1"), false, true, false, 0x88, false},
		{"IPv4 TOS 0", netip.MustParseAddr("127.0.0.1"), true, false, false, 0, false},
		{"IPv4 caller reads", netip.MustParseAddr("127.0.0.1"), true, false, false, 0xb8, true},
		{"IPv6 mux", netip.IPv6Loopback(), true, false, false, 0xb8, false},
		{"IPv6 RTCP port unspecified local", netip.IPv6Loopback(), false, true, true, 0x48, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := openModule(t)
			v, rtp, rtcp := mediaPortConfig(t, mod, vmprx.Config{Local: tc.loopback, RTCPMux: tc.mux, CallerReads: tc.caller})
			port := rtp
			if tc.rtcpPort {
				port = rtcp
			}
			local := port
			if tc.anyAddr {
				local = netip.AddrPortFrom(netip.IPv4Unspecified(), port.Port())
				if tc.loopback.Is6() {
					local = netip.AddrPortFrom(netip.IPv6Unspecified(), port.Port())
				}
			}
			r := receiver(t, tc.loopback)
			d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: local, TOS: tc.tos})
			if err != nil {
				t.Fatalf("Create on the VMP[rx]'s port: %v", err)
			}
			if shared, err := d.SharesSocket(); !shared || err != nil {
				t.Fatalf("SharesSocket = %v, %v", shared, err)
			}
			if got, _ := d.LocalAddr(); got != port {
				t.Fatalf("LocalAddr = %v, want the port %v", got, port)
			}

			pkts := [][]byte{rtpPacket(200, 1), rtpPacket(200, 2), rtpPacket(200, 3)}
			if err := d.Send(pkts[0]); err != nil {
				t.Fatal(err)
			}
			if n, err := d.SendBatch(pkts[1:]); n != 2 || err != nil {
				t.Fatalf("SendBatch = %d, %v", n, err)
			}
			for i, p := range pkts {
				got := recv(t, r)
				if string(got.data) != string(p) || got.src != port || got.tos != tc.tos {
					t.Fatalf("datagram %d: %d bytes from %v tos %#x, want %d bytes from %v tos %#x", i, len(got.data), got.src, got.tos, len(p), port, tc.tos)
				}
			}

			// The peer answers to the port: the VMP[rx] still receives.
			peerSend := func(seq uint16) {
				t.Helper()
				p := rtpPacket(100, seq)
				if tc.rtcpPort {
					p = rtcpPacket(uint32(seq))
				}
				if _, err := r.WriteTo(p, port); err != nil {
					t.Fatal(err)
				}
				data, pkt := getPacket(t, v)
				if string(data) != string(p) || pkt.Src != r.LocalAddr() || pkt.RTCPPort != (tc.rtcpPort && !tc.mux) {
					t.Fatalf("VMP[rx] got %d bytes from %v (RTCP port %v)", len(data), pkt.Src, pkt.RTCPPort)
				}
			}
			peerSend(10)

			// Destroying the dispatcher leaves the socket to the VMP[rx].
			if err := d.Destroy(); err != nil {
				t.Fatal(err)
			}
			peerSend(11)
			if err := v.SendFrom(tc.rtcpPort, []byte("stun"), r.LocalAddr()); err != nil {
				t.Fatalf("SendFrom after the dispatcher's Destroy: %v", err)
			}
			if got := recv(t, r); string(got.data) != "stun" || got.src != port || got.tos != 0 {
				t.Fatalf("SendFrom: %q from %v tos %#x", got.data, got.src, got.tos)
			}
		})
	}
}

// TestSharedTOSPerDatagram: two dispatchers on one VMP[rx] port with
// different TOS, sending in turn, and the VMP[rx]'s own SendFrom (STUN):
// each datagram carries its sender's TOS (the socket's own, 0, for
// SendFrom), so no sender changed the socket for the others.
func TestSharedTOSPerDatagram(t *testing.T) {
	for _, tc := range []struct {
		name       string
		loopback   netip.Addr
		tosA, tosB int
	}{
		{"IPv4", netip.MustParseAddr("127.0.0.1"), 0xb8, 0x28},
		{"IPv6", netip.IPv6Loopback(), 0x88, 0x20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := openModule(t)
			v, port, _ := mediaPort(t, mod, tc.loopback, true)
			r := receiver(t, tc.loopback)
			a, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: port, TOS: tc.tosA})
			if err != nil {
				t.Fatal(err)
			}
			b, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: port, TOS: tc.tosB})
			if err != nil {
				t.Fatal(err)
			}
			type want struct {
				data string
				tos  int
			}
			var wants []want
			for i := 0; i < 4; i++ {
				pa, pb := rtpPacket(60, uint16(2*i)), rtpPacket(60, uint16(2*i+1))
				if err := a.Send(pa); err != nil {
					t.Fatal(err)
				}
				if n, err := b.SendBatch([][]byte{pb, pb}); n != 2 || err != nil {
					t.Fatalf("SendBatch = %d, %v", n, err)
				}
				if err := v.SendFrom(false, []byte("stun"), r.LocalAddr()); err != nil {
					t.Fatal(err)
				}
				wants = append(wants, want{string(pa), tc.tosA}, want{string(pb), tc.tosB}, want{string(pb), tc.tosB}, want{"stun", 0})
			}
			for i, w := range wants {
				got := recv(t, r)
				if string(got.data) != w.data || got.src != port || got.tos != w.tos {
					t.Fatalf("datagram %d: %d bytes from %v tos %#x, want %d bytes tos %#x", i, len(got.data), got.src, got.tos, len(w.data), w.tos)
				}
			}
		})
	}
}

// TestSharedSendBatch: SendBatch on a VMP[rx]'s port delivers every
// datagram, whole, in order, from the port. The sender paces itself: it
// sends the next batches only when the receiver has read the previous
// ones, so that the receive buffer never overflows and a missing datagram
// is a failure of ours.
func TestSharedSendBatch(t *testing.T) {
	mod := openModule(t)
	_, port, _ := mediaPort(t, mod, netip.MustParseAddr("127.0.0.1"), true)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: port, TOS: 0xb8})
	if err != nil {
		t.Fatal(err)
	}
	// The kernel charges a loopback datagram of 1200 bytes about 2.3 KB
	// of the receive buffer: 64 in flight fit the usual default of 208 KB.
	const total, chunk, window = 3000, 32, 64
	r.UDPConn().SetReadBuffer(1 << 20) // more where the system allows
	pkts := make([][]byte, total)
	for i := range pkts {
		pkts[i] = rtpPacket(1200, uint16(i))
		if i%97 == 96 {
			pkts[i] = rtpPacket(600, uint16(i)) // ends a segmented message
		}
	}

	var got sync.WaitGroup
	var rerr error
	var count int
	progress := make(chan int, total)
	got.Add(1)
	go func() {
		defer got.Done()
		defer close(progress)
		buf := make([]byte, 2048)
		for i := range pkts {
			r.UDPConn().SetReadDeadline(time.Now().Add(testutil.Patience))
			n, src, tos, err := r.ReadTOS(buf)
			if err != nil {
				rerr = err
				return
			}
			g := received{data: buf[:n], src: src, tos: tos}
			if string(g.data) != string(pkts[i]) || g.src != port || g.tos != 0xb8 {
				rerr = fmt.Errorf("datagram %d: %d bytes (seq %d) from %v tos %#x, want %d bytes from %v tos 0xb8",
					i, len(g.data), binary.BigEndian.Uint16(g.data[2:]), g.src, g.tos, len(pkts[i]), port)
				return
			}
			count++
			progress <- count
		}
	}()
	delivered := 0
	for sent := 0; sent < total; {
		for sent-delivered+chunk > window {
			n, ok := <-progress
			if !ok {
				t.Fatalf("receiver stopped after %d: %v", delivered, rerr)
			}
			delivered = n
		}
		k := min(chunk, total-sent)
		n, err := d.SendBatch(pkts[sent : sent+k])
		if err != nil || n != k {
			t.Fatalf("SendBatch = %d, %v", n, err)
		}
		sent += k
	}
	got.Wait()
	if rerr != nil || count != total {
		t.Fatalf("received %d of %d: %v", count, total, rerr)
	}
	st, _ := d.Stats()
	if st.Packets != total || st.Errors != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

// TestMediaPortStops: when the VMP[rx] stops (Stop, Destroy or
// Module.Close) the dispatcher sharing its socket stops with it, while
// senders race it: their last error, every later send's, Status, Err and
// the event say so; nothing panics and the dispatcher is destroyed
// cleanly.
func TestMediaPortStops(t *testing.T) {
	for _, how := range []string{"Stop", "Destroy", "Module.Close"} {
		t.Run(how, func(t *testing.T) {
			mod, err := mediaport.OpenModule(mediaport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close()
			v, port, _ := mediaPort(t, mod, netip.MustParseAddr("127.0.0.1"), true)
			r := receiver(t, netip.MustParseAddr("127.0.0.1"))
			d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: port, TOS: 0xb8})
			if err != nil {
				t.Fatal(err)
			}
			ev, _ := d.Event()
			done := make(chan error, 2)
			for g := 0; g < 2; g++ {
				go func() {
					pkt := rtpPacket(100, 0)
					for {
						var err error
						if g == 0 {
							err = d.Send(pkt)
						} else {
							_, err = d.SendBatch([][]byte{pkt, pkt})
						}
						if err != nil {
							done <- err
							return
						}
					}
				}()
			}
			switch how {
			case "Stop":
				err = v.Stop()
			case "Destroy":
				err = v.Destroy()
			default:
				err = mod.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			for g := 0; g < 2; g++ {
				err := <-done
				if how == "Module.Close" {
					// The dispatcher may be destroyed before its VMP[rx].
					if !errors.Is(err, mediaport.ErrStopped) && !errors.Is(err, mediaport.ErrDestroyed) {
						t.Fatalf("send racing Module.Close = %v", err)
					}
					continue
				}
				if !errors.Is(err, dispatcher.ErrSourceClosed) || !errors.Is(err, mediaport.ErrStopped) {
					t.Fatalf("send racing the VMP[rx]'s %s = %v, want ErrSourceClosed", how, err)
				}
			}
			if how == "Module.Close" {
				checkDestroyed(t, d)
				return
			}
			if !ev.Permanent() {
				t.Fatal("dispatcher event not signalled permanently")
			}
			if st, err := d.Status(); st != dispatcher.Stopped || err != nil {
				t.Fatalf("Status = %v, %v, want Stopped", st, err)
			}
			if err := d.Err(); !errors.Is(err, dispatcher.ErrSourceClosed) {
				t.Fatalf("Err = %v, want ErrSourceClosed", err)
			}
			if err := d.Send([]byte("late")); !errors.Is(err, dispatcher.ErrSourceClosed) {
				t.Fatalf("Send = %v", err)
			}
			if _, err := d.SendBatch([][]byte{[]byte("late")}); !errors.Is(err, dispatcher.ErrSourceClosed) {
				t.Fatalf("SendBatch = %v", err)
			}
			if err := d.Stop(); err != nil {
				t.Fatalf("Stop of the stopped dispatcher: %v", err)
			}
			if err := d.Destroy(); err != nil {
				t.Fatal(err)
			}
			checkDestroyed(t, d)
		})
	}
}

// TestSharedAfterMediaPortStopped: a VMP[rx] that has stopped has no socket
// to share; a dispatcher asked for its port after that binds one of its
// own (the port is free again).
func TestSharedAfterMediaPortStopped(t *testing.T) {
	mod := openModule(t)
	v, port, _ := mediaPort(t, mod, netip.MustParseAddr("127.0.0.1"), true)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	if err := v.Stop(); err != nil {
		t.Fatal(err)
	}
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: port})
	if err != nil {
		t.Fatal(err)
	}
	if shared, _ := d.SharesSocket(); shared {
		t.Fatal("dispatcher shares the socket of a stopped VMP[rx]")
	}
}

// TestSharedStopLeavesPort: stopping one of two dispatchers on a port
// leaves the other, and the VMP[rx], sending.
func TestSharedStopLeavesPort(t *testing.T) {
	mod := openModule(t)
	v, port, _ := mediaPort(t, mod, netip.MustParseAddr("127.0.0.1"), true)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	a, _ := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: port})
	b, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: port})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := a.Err(); err != nil {
		t.Fatalf("Err after Stop = %v, want nil", err)
	}
	if err := b.Send([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := v.SendFrom(false, []byte("v"), r.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"b", "v"} {
		if got := recv(t, r); string(got.data) != want || got.src != port {
			t.Fatalf("received %q from %v, want %q from %v", got.data, got.src, want, port)
		}
	}
	if st, _ := b.Status(); st != dispatcher.Running {
		t.Fatalf("second dispatcher %v after the first stopped", st)
	}
}

func TestSharedSendDoesNotAllocate(t *testing.T) {
	mod := openModule(t)
	_, port, _ := mediaPort(t, mod, netip.MustParseAddr("127.0.0.1"), true)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: port, TOS: 0xb8})
	if err != nil {
		t.Fatal(err)
	}
	pkt := make([]byte, 1200)
	pkts := [][]byte{pkt, pkt, pkt, pkt}
	testutil.NoAllocs(t, "Send", func() { d.Send(pkt) })
	testutil.NoAllocs(t, "SendBatch", func() { d.SendBatch(pkts) })
}

// TestCreateRacingMediaPortStop: a dispatcher created on a port while its
// VMP[rx] stops either fails cleanly, or has a socket of its own (the port
// was free again), or shares the socket and has stopped with
// ErrSourceClosed once the VMP[rx]'s Stop has returned; no endpoint is
// left behind.
func TestCreateRacingMediaPortStop(t *testing.T) {
	mod := openModule(t)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	outcomes := map[string]int{}
	for round := 0; round < 100; round++ {
		v, port, _ := mediaPort(t, mod, netip.MustParseAddr("127.0.0.1"), true)
		stopped := make(chan error, 1)
		go func() { stopped <- v.Stop() }()
		d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: port})
		if serr := <-stopped; serr != nil {
			t.Fatal(serr)
		}
		switch shared, _ := d.SharesSocket(); {
		case err != nil:
			outcomes["failed"]++
			if !errors.Is(err, dispatcher.ErrSourceClosed) && !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatalf("Create racing the VMP[rx]'s Stop = %v", err)
			}
			if mod.Endpoints() != 1 {
				t.Fatalf("failed Create (%v) left %d endpoints, want the VMP[rx] alone", err, mod.Endpoints())
			}
		case shared:
			outcomes["shared"]++
			if st, _ := d.Status(); st != dispatcher.Stopped || !errors.Is(d.Err(), dispatcher.ErrSourceClosed) {
				t.Fatalf("shared dispatcher %v, Err %v after the VMP[rx] stopped", st, d.Err())
			}
			if err := d.Send([]byte("x")); !errors.Is(err, dispatcher.ErrSourceClosed) {
				t.Fatalf("Send = %v", err)
			}
		default:
			outcomes["own socket"]++
		}
		if d != nil {
			d.Destroy()
		}
		v.Destroy()
		if n := mod.Endpoints(); n != 0 {
			t.Fatalf("round %d: %d endpoints left", round, n)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
