package vmprx_test

import (
	"sync"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/mediapeer"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// videoBuffer is the receive buffer the video test configures: 4 MiB,
// four seconds of 8 Mb/s (Linux grants 8 MiB with its overhead).
const videoBuffer = 4 << 20

// videoBacklog is what the test lets wait in the socket, unread, before
// the VMP[rx] reads: 1 MiB of the kernel's accounting, some 450 packets
// of 1,200 bytes, a third of a second of the stream. The system's
// default buffer (208 KiB) cannot hold it.
const videoBacklog = 1 << 20

// TestVideoBurstReadBuffer: ffmpeg sends three seconds of 720p30 video at
// 8 Mb/s (mpeg4 on testsrc2, a keyframe a second, 1,200-byte packets:
// each frame a burst of some 30 datagrams, a keyframe more) to a
// VMP[rx] while its receive goroutine is held (as a busy machine holds
// it) until 1 MiB waits in the socket, counted by the kernel, not timed.
//
// With Config.ReadBuffer 4 MiB nothing is lost: the kernel dropped
// nothing (Stats.KernelDrops, from SO_RXQ_OVFL, and /proc/net/udp both
// 0) and mediaport read every packet and octet the sender's last SR
// counts. This is the one test that asserts loopback drops nothing, and
// only with the buffer it configures: when the kernel grants less (no
// CAP_NET_ADMIN and a small net.core.rmem_max) it skips after checking
// the counts. With the system's default buffer (ReadBuffer -1) the same
// backlog overflows it: the kernel drops, Stats.KernelDrops reports
// them, and read plus dropped is still what the SR counts.
func TestVideoBurstReadBuffer(t *testing.T) {
	mediapeer.FFmpeg(t)
	for _, c := range []struct {
		name string
		ask  int
	}{{"Configured", videoBuffer}, {"SystemDefault", -1}} {
		t.Run(c.name, func(t *testing.T) {
			mod := openModule(t, mediaport.Options{})
			v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4, QueueLen: peerQueue, ReadBuffer: c.ask})
			granted, _, err := v.ReadBuffer()
			if err != nil {
				t.Fatal(err)
			}
			if c.ask < 0 && granted >= videoBacklog {
				t.Skipf("the system's default receive buffer, %d bytes, holds the backlog", granted)
			}
			release := sync.OnceFunc(vmprx.HoldPorts(v))
			defer release() // Destroy waits for the ports
			r := newPeerReading(t, v, false)
			ff := mediapeer.FFmpegVideo{Sender: peerSender(t, v, nil), Pattern: "testsrc2", Size: "1280x720", Rate: 30,
				Seconds: 3, Bitrate: "8M", GOP: 30, CNAME: "video"}.Start(t)
			conn := vmprx.PortConn(v, false)
			var queued uint64
			testutil.Eventually(t, testutil.Patience, func() bool {
				queued = testutil.RxQueue(t, conn)
				return queued >= videoBacklog || procDrops(t, v) > 0 || ff.Exited()
			}, "ffmpeg sent nothing")
			release()
			r.until("ffmpeg's BYE", r.byes(1), ff)
			st := checkClean(t, v)
			proc := procDrops(t, v)
			if len(r.streams) != 1 {
				t.Fatalf("streams: %s", r)
			}
			for ssrc, s := range r.streams {
				checkStream(t, r, ssrc, proc, "video")
				if mbps := float64(s.last.OctetCount) * 8 / 3 / 1e6; mbps < 6 {
					t.Errorf("ffmpeg sent %.1f Mb/s, not a video rate", mbps)
				} else {
					t.Logf("%d packets at %.1f Mb/s; %d bytes waited unread; buffer granted %d bytes; %d dropped by the kernel",
						s.last.PacketCount, mbps, queued, granted, proc)
				}
			}
			// SO_RXQ_OVFL tells of drops with the next datagram read.
			if st.KernelDrops > proc {
				t.Errorf("Stats.KernelDrops %d, /proc/net/udp %d", st.KernelDrops, proc)
			}
			if c.ask < 0 {
				if proc == 0 || st.KernelDrops == 0 {
					t.Errorf("%d bytes waiting in a %d-byte buffer, yet the kernel dropped %d (Stats.KernelDrops %d)",
						queued, granted, proc, st.KernelDrops)
				}
				return
			}
			if granted < 2*videoBuffer {
				t.Skipf("the kernel granted %d bytes, not %d (no CAP_NET_ADMIN, rmem_max below): %d dropped", granted, 2*videoBuffer, proc)
			}
			if queued < videoBacklog {
				t.Errorf("only %d bytes waited before ffmpeg ended", queued)
			}
			if proc != 0 || st.KernelDrops != 0 {
				t.Errorf("the kernel dropped %d datagrams (Stats.KernelDrops %d) with a %d-byte buffer", proc, st.KernelDrops, granted)
			}
		})
	}
}
