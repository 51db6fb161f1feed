package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/mediaport/mediaport/internal/mediapeer"
	"github.com/mediaport/mediaport/internal/testutil"
)

// TestRun: the command receives what ffmpeg sends it, plain and SRTP,
// with RTCP on its own port and with rtcp-mux, and ends at ffmpeg's BYE
// with every packet the sender's last SR counts received or dropped by
// the kernel (Stats.KernelDrops).
func TestRun(t *testing.T) {
	mediapeer.FFmpeg(t)
	for _, c := range []struct {
		name     string
		mux, key bool
	}{{"RTP", false, false}, {"RTCPMux", true, false}, {"SRTP", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			o := options{addr: netip.MustParseAddr("127.0.0.1"), mux: c.mux}
			if c.key {
				o.key = make([]byte, mediapeer.KeyLen)
				rand.Read(o.key)
			}
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
			defer cancel()
			ready := make(chan netip.AddrPort, 1)
			type result struct {
				s   summary
				err error
			}
			done := make(chan result, 1)
			var out bytes.Buffer
			go func() { s, err := run(ctx, o, &out, ready); done <- result{s, err} }()
			var rtp netip.AddrPort
			select {
			case rtp = <-ready:
			case r := <-done:
				t.Fatal(r.err)
			}
			snd := mediapeer.Sender{RTP: rtp, Key: o.key}
			if c.mux {
				snd.RTCPPort = rtp.Port()
			}
			mediapeer.FFmpegVideo{Sender: snd}.Start(t)
			r := <-done
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, out.String())
			}
			// With rtcp-mux the BYE comes after every RTP packet on one
			// socket, and with it the kernel's count of every drop before
			// (SO_RXQ_OVFL); on a port of its own, drops of the last RTP
			// packets would show only with a later one.
			sum := r.s.Received + r.s.KernelDrops
			if r.s.Received == 0 || sum > uint64(r.s.SRCount) || (c.mux && sum != uint64(r.s.SRCount)) {
				t.Errorf("summary %+v\n%s", r.s, out.String())
			}
			if !strings.Contains(out.String(), "new SSRC") {
				t.Errorf("no new SSRC reported:\n%s", out.String())
			}
		})
	}
}
