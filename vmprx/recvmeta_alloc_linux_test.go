package vmprx

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
)

// TestRecvMetaNoAllocs: with Config.RecvMeta, a datagram read from the
// socket (receive goroutine, caller reads, GRO), routed, queued and
// returned by GetPacket with its metadata allocates nothing.
func TestRecvMetaNoAllocs(t *testing.T) {
	for _, c := range []struct {
		name             string
		callerReads, gro bool
	}{{"PortReads", false, false}, {"CallerReads", true, false}, {"GRO", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			mod, _ := mediaport.OpenModule(mediaport.Options{})
			defer mod.Close()
			v, _ := Create(mod)
			lo := netip.MustParseAddr("127.0.0.1")
			if err := v.Config(Config{Local: lo, RTCPMux: true, RecvMeta: true, CallerReads: c.callerReads, GRO: c.gro}); err != nil {
				if errors.Is(err, errors.ErrUnsupported) {
					t.Skip(err)
				}
				t.Fatal(err)
			}
			s, err := udp.Listen(netip.AddrPortFrom(lo, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			port, _, _ := v.Ports()
			rtp := make([]byte, 200)
			rtp[0] = 0x80
			binary.BigEndian.PutUint32(rtp[8:], 7)
			buf := make([]byte, 2048)
			testutil.NoAllocs(t, "RTP with RecvMeta", func() {
				if _, err := s.WriteTo(rtp, port); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for {
					p, err := v.GetPacket(buf)
					if err == nil {
						if p.Meta.Has&mediaport.RecvTTL == 0 || p.Meta.Time.IsZero() {
							t.Fatalf("no metadata: %+v", p.Meta)
						}
						return
					}
					if !errors.Is(err, ErrNoPacket) || time.Now().After(deadline) {
						t.Fatal(err)
					}
				}
			})
		})
	}
}
