package srtp_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// TestDispatcherToVMPRx: with the keys of a real association, for every
// profile, a dispatcher with the client's session sends RTP (across a
// sequence-number wrap) and RTCP to a VMP[rx] with the server's session:
// GetPacket returns exactly what was given to Send and SendBatch.
func TestDispatcherToVMPRx(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile.String(), func(t *testing.T) {
			cli, srv := sessions(t, profile)
			mod, err := mediaport.OpenModule(mediaport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close()
			v, _ := vmprx.Create(mod)
			if err := v.Config(vmprx.Config{Local: lo4, RTCPMux: true}); err != nil {
				t.Fatal(err)
			}
			if err := v.ConfigSRTP(srv); err != nil {
				t.Fatal(err)
			}
			port, _, _ := v.Ports()
			d, err := dispatcher.Create(mod, dispatcher.Config{Destination: port})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.ConfigSRTP(cli); err != nil {
				t.Fatal(err)
			}
			var want [][]byte
			for i := range 6 {
				want = append(want, rtpPacket(0xa, uint16(65533+i), 160))
			}
			want = append(want, rtcpPacket(0xa, 16))
			for _, p := range want[:3] {
				if err := d.Send(p); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := d.SendBatch(want[3:]); err != nil || n != len(want)-3 {
				t.Fatalf("SendBatch: %d, %v", n, err)
			}
			ev, _ := v.Event()
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
			defer cancel()
			buf := make([]byte, 2048)
			for i := 0; i < len(want); {
				pkt, err := v.GetPacket(buf)
				if errors.Is(err, vmprx.ErrNoPacket) {
					if err := ev.Wait(ctx); err != nil {
						st, _ := v.Stats()
						t.Fatalf("got %d of %d packets; stats %+v", i, len(want), st)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf[:pkt.Len], want[i]) {
					t.Fatalf("packet %d: %x, want %x", i, buf[:pkt.Len], want[i])
				}
				i++
			}
			if st, _ := v.Stats(); st.SRTPAuth != 0 || st.SRTPReplay != 0 || st.RTP != 6 || st.RTCP != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}
