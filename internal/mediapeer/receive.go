package mediapeer

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mediaport/mediaport/internal/testutil"
)

// The receivers decode SRTP PCMU (payload type 0, 8 kHz, static: no
// rtpmap needed) sent to them, with Suite and a key.

// FreePortPair returns an even port on addr whose successor is free too,
// for a receiver that binds both (ffmpeg's RTP and RTCP). The ports are
// closed again: another program may take them before the receiver does,
// which on loopback in a test is rare enough.
func FreePortPair(t testing.TB, addr netip.Addr) uint16 {
	t.Helper()
	var held []*net.UDPConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 64 {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		p := c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		if p%2 == 1 || p == 65534 {
			continue
		}
		c2, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, p+1)))
		if err != nil {
			continue
		}
		held = append(held, c2)
		return p
	}
	t.Fatal("no free even/odd port pair")
	return 0
}

// FFmpegSRTPReceiver is ffmpeg receiving SRTP PCMU on Port (and RTCP on
// Port+1), described by an SDP with a=crypto (ffmpeg's way to take an
// SRTP input key), decoding it and printing one line per decoded frame
// (framecrc).
type FFmpegSRTPReceiver struct {
	Addr netip.Addr
	Port uint16 // even; FreePortPair
	Key  []byte // KeyLen bytes
}

// SDP returns the session description ffmpeg reads.
func (r FFmpegSRTPReceiver) SDP() string {
	ipv := "IP4"
	if r.Addr.Is6() {
		ipv = "IP6"
	}
	return fmt.Sprintf("v=0\r\no=- 0 0 IN %[1]s %[2]s\r\ns=mediapeer\r\nc=IN %[1]s %[2]s\r\nt=0 0\r\n"+
		"m=audio %[3]d RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:1 %[4]s inline:%[5]s\r\n",
		ipv, r.Addr, r.Port, Suite, FFmpegKey(r.Key))
}

// Start writes the SDP and starts ffmpeg on it (skipping t without
// ffmpeg). It is listening once its output has "Output #0" (it opens the
// output after the input's first packets: send until then).
func (r FFmpegSRTPReceiver) Start(t testing.TB) *testutil.Proc {
	t.Helper()
	bin := FFmpeg(t)
	sdp := filepath.Join(t.TempDir(), "in.sdp")
	if err := os.WriteFile(sdp, []byte(r.SDP()), 0o600); err != nil {
		t.Fatal(err)
	}
	return testutil.StartCmd(t, exec.Command(bin, "-hide_banner", "-nostdin", "-loglevel", "warning",
		"-protocol_whitelist", "file,udp,rtp,srtp,crypto", "-i", sdp, "-flush_packets", "1", "-f", "framecrc", "-"))
}

// DecodedSamples sums the durations of the frames in ffmpeg's framecrc
// output (stream, dts, pts, duration, size, crc per line): the samples
// it decoded.
func DecodedSamples(out string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 6 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if d, err := strconv.Atoi(strings.TrimSpace(f[3])); err == nil {
			n += d
		}
	}
	return n
}

// GstSRTPReceiver is gst-launch-1.0 receiving SRTP PCMU from SSRC on
// Port: udpsrc, srtpdec, rtppcmudepay, mulawdec, and a fakesink that
// reports every decoded buffer (-v: "chain").
type GstSRTPReceiver struct {
	Addr netip.Addr
	Port uint16
	SSRC uint32
	Key  []byte
}

// Args returns gst-launch-1.0's arguments.
func (r GstSRTPReceiver) Args() []string {
	caps := fmt.Sprintf(`caps="application/x-srtp,media=(string)audio,clock-rate=(int)8000,encoding-name=(string)PCMU,`+
		`payload=(int)0,ssrc=(uint)%d,srtp-key=(buffer)%s,srtp-cipher=(string)aes-128-icm,srtp-auth=(string)hmac-sha1-80,`+
		`srtcp-cipher=(string)aes-128-icm,srtcp-auth=(string)hmac-sha1-80,roc=(uint)0"`, r.SSRC, GstKey(r.Key))
	return []string{"-v", "udpsrc", "address=" + r.Addr.String(), "port=" + strconv.Itoa(int(r.Port)), caps, "!",
		"srtpdec", "!", "rtppcmudepay", "!", "mulawdec", "!", "fakesink", "silent=false"}
}

// Start starts it (skipping t without GStreamer). It is listening once
// its output has "PLAYING".
func (r GstSRTPReceiver) Start(t testing.TB) *testutil.Proc {
	t.Helper()
	return testutil.StartCmd(t, exec.Command(GstLaunch(t), r.Args()...))
}

// GstBuffers counts the buffers fakesink reported in gst-launch-1.0 -v
// output.
func GstBuffers(out string) int { return strings.Count(out, "last-message = chain") }
