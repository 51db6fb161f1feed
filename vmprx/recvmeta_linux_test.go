package vmprx_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/vmprx"
)

// metaSender returns a socket on addr's loopback whose datagrams leave
// with TOS (traffic class) tos and TTL (hop limit) ttl.
func metaSender(t *testing.T, addr netip.Addr, tos, ttl int) *udp.Conn {
	t.Helper()
	s := sender(t, addr)
	if err := s.SetTOS(tos); err != nil {
		t.Fatal(err)
	}
	rc, err := s.UDPConn().SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	rc.Control(func(fd uintptr) {
		if addr.Is6() {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, ttl)
		}
	})
	if serr != nil {
		t.Fatal(serr)
	}
	return s
}

// getOne calls get until it returns something other than ErrNoPacket,
// waiting on ev between calls; it fails after twenty seconds.
func getOne(t *testing.T, ev *event.Event, get func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		err := get()
		if err == nil {
			return
		}
		if !errors.Is(err, mediaport.ErrNoPacket) {
			t.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatal("no packet:", err)
		}
	}
}

// TestRecvMeta: with Config.RecvMeta, RTP read with GetPacket and DTLS
// read with the DTLS[rx]'s GetPacketMeta report the TOS (traffic class)
// and TTL (hop limit) the sender set, and a kernel receive time between
// the wall clock before the send and after the read — IPv4 and IPv6,
// receive goroutine and caller reads (one read per datagram and batch).
// With caller reads, also DTLS that GetPacketMeta reads straight into its
// buffer. Without RecvMeta, nothing is reported.
func TestRecvMeta(t *testing.T) {
	const tos, ttl = 0x88, 23
	for _, lo := range []netip.Addr{lo4, netip.IPv6Loopback()} {
		for _, m := range modes {
			for _, batch := range []int{1, 32} {
				for _, on := range []bool{true, false} {
					name := lo.String() + "/" + m.name + "/" + map[bool]string{true: "on", false: "off"}[on]
					if batch == 1 {
						name += "/single"
					}
					t.Run(name, func(t *testing.T) {
						mod := openModule(t, mediaport.Options{Batch: batch})
						v, port, _ := newVMP(t, mod, vmprx.Config{Local: lo, RTCPMux: true, CallerReads: m.callerReads, RecvMeta: on})
						rx, _ := dtlsrx.Create(mod)
						if err := v.ConfigDTLS(rx, false); err != nil {
							t.Fatal(err)
						}
						s := metaSender(t, lo, tos, ttl)
						check := func(what string, got mediaport.RecvMeta, before, after time.Time) {
							t.Helper()
							if !on {
								if got != (mediaport.RecvMeta{}) {
									t.Errorf("%s without RecvMeta: %+v", what, got)
								}
								return
							}
							if got.Has != mediaport.RecvTTL|mediaport.RecvTOS || got.TTL != ttl || got.TOS != tos {
								t.Errorf("%s: TTL %d TOS %#x (has %b), want %d %#x", what, got.TTL, got.TOS, got.Has, ttl, tos)
							}
							if got.Time.Before(before) || got.Time.After(after) {
								t.Errorf("%s: received at %v, not within [%v, %v]", what, got.Time, before, after)
							}
						}
						vev, _ := v.Event()
						rev, _ := rx.Event()
						buf := make([]byte, 2048)
						for i := 0; i < 3; i++ {
							before := time.Now()
							s.WriteTo(rtpPacket(7, uint16(i), "media"), port)
							s.WriteTo(dtlsRecord("record"), port)
							var pkt vmprx.Packet
							getOne(t, vev, func() (err error) { pkt, err = v.GetPacket(buf); return })
							after := time.Now()
							if pkt.Class != vmprx.ClassRTP || pkt.Src != s.LocalAddr() {
								t.Fatalf("packet %+v", pkt)
							}
							check("RTP", pkt.Meta, before, after)
							var meta mediaport.RecvMeta
							var src netip.AddrPort
							getOne(t, rev, func() (err error) { _, src, meta, err = rx.GetPacketMeta(buf); return })
							if src != s.LocalAddr() {
								t.Fatalf("DTLS from %v", src)
							}
							check("DTLS", meta, before, time.Now())
						}
						// DTLS alone: with CallerReads, GetPacketMeta reads it
						// straight into its buffer.
						for i := 0; i < 3; i++ {
							before := time.Now()
							s.WriteTo(dtlsRecord("alone"), port)
							var meta mediaport.RecvMeta
							getOne(t, rev, func() (err error) { _, _, meta, err = rx.GetPacketMeta(buf); return })
							check("DTLS alone", meta, before, time.Now())
						}
					})
				}
			}
		}
	}
}
