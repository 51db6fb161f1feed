// Package mediapeer runs the real RTP and SRTP peers of mediaport's tests:
// ffmpeg (its RTP muxer and SRTP protocol, with lavfi's generated test
// media, no files) and GStreamer's gst-launch-1.0 (rtpsession, srtpenc,
// srtpdec). Both are installed programs (Debian's ffmpeg and
// gstreamer1.0-tools with the base, good and bad plugins); a test that
// needs one skips when it is missing and fails instead under
// MEDIAPORT_REQUIRE_PEERS=1 (internal/testutil). It also reads what the
// senders report: the RTCP packets of a compound and a sender report's
// packet count.
package mediapeer

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"

	"github.com/mediaport/mediaport/internal/testutil"
)

// FFmpeg returns the path of ffmpeg, or skips t (fails it under
// MEDIAPORT_REQUIRE_PEERS=1) when it is not installed.
func FFmpeg(t testing.TB) string {
	t.Helper()
	return testutil.Peer(t, "ffmpeg")
}

// GstLaunch returns the path of gst-launch-1.0 after checking that the
// elements the pipelines here use are installed (gst-inspect-1.0), or
// skips t (fails it under MEDIAPORT_REQUIRE_PEERS=1).
func GstLaunch(t testing.TB) string {
	t.Helper()
	bin := testutil.Peer(t, "gst-launch-1.0")
	inspect := testutil.Peer(t, "gst-inspect-1.0")
	for _, el := range []string{"rtpsession", "audiotestsrc", "alawenc", "rtppcmapay", "udpsink", "udpsrc",
		"funnel", "srtpenc", "srtpdec", "rtppcmudepay", "mulawdec", "fakesink"} {
		if out, err := exec.Command(inspect, "--exists", el).CombinedOutput(); err != nil {
			if testutil.RequirePeers() {
				t.Fatalf("GStreamer element %s missing and MEDIAPORT_REQUIRE_PEERS=1: %v %s", el, err, out)
			}
			t.Skipf("GStreamer element %s missing (gstreamer1.0-plugins-base/good/bad): %v", el, err)
		}
	}
	return bin
}

// Suite is the only SRTP crypto suite both ffmpeg and the tests here
// use: AES_CM_128_HMAC_SHA1_80 (association.SRTP_AES128_CM_HMAC_SHA1_80),
// a 16-byte master key and a 14-byte master salt.
const Suite = "AES_CM_128_HMAC_SHA1_80"

// KeyLen is the length of a master key followed by its salt for Suite.
const KeyLen = 30

// FFmpegKey is key (master key then salt, KeyLen bytes) as ffmpeg's
// -srtp_out_params and an SDP's a=crypto inline: take it: base64.
func FFmpegKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// GstKey is key as srtpenc's key property and srtpdec's srtp-key caps
// field take it: hexadecimal.
func GstKey(key []byte) string { return hex.EncodeToString(key) }

// Sender is an RTP sender: where its RTP and RTCP go.
type Sender struct {
	// RTP is where RTP goes.
	RTP netip.AddrPort
	// RTCPPort is where RTCP goes, on RTP's host: 0 means RTP's port + 1,
	// RTP's own port means rtcp-mux.
	RTCPPort uint16
	// Key, when set (KeyLen bytes), makes the sender send SRTP and SRTCP
	// with Suite.
	Key []byte
}

func (s Sender) rtcpPort() uint16 {
	if s.RTCPPort == 0 {
		return s.RTP.Port() + 1
	}
	return s.RTCPPort
}

// FFmpegVideo is an ffmpeg sender of generated video (lavfi testsrc) in
// real time (-re), packetised by ffmpeg's RTP muxer: an SR as it starts,
// SR and BYE as it ends (-rtpflags send_bye), with SDES CNAME in both.
// The last SR's packet count is every RTP packet sent.
type FFmpegVideo struct {
	Sender
	// Pattern is the lavfi source (default testsrc; testsrc2 moves more
	// and compresses less: mpeg4 reaches 8 Mb/s on it at 720p30).
	Pattern string
	// Size and Rate of the picture (default 320x240, 25).
	Size string
	Rate int
	// Seconds of video (default 1).
	Seconds float64
	// Codec is the encoder (default mpeg4: in every ffmpeg build).
	Codec string
	// Bitrate for the encoder, as ffmpeg takes it ("8M"); "" for the
	// encoder's default.
	Bitrate string
	// GOP is the keyframe interval in frames (0: the encoder's default).
	GOP int
	// PacketSize bounds the RTP packets (default 1200 bytes).
	PacketSize int
	// CNAME is the SDES CNAME (default "mediapeer").
	CNAME string
}

// Args returns ffmpeg's arguments.
func (f FFmpegVideo) Args() []string {
	pattern, size, rate, secs, codec, pkt, cname := f.Pattern, f.Size, f.Rate, f.Seconds, f.Codec, f.PacketSize, f.CNAME
	if pattern == "" {
		pattern = "testsrc"
	}
	if size == "" {
		size = "320x240"
	}
	if rate == 0 {
		rate = 25
	}
	if secs == 0 {
		secs = 1
	}
	if codec == "" {
		codec = "mpeg4"
	}
	if pkt == 0 {
		pkt = 1200
	}
	if cname == "" {
		cname = "mediapeer"
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("%s=size=%s:rate=%d:duration=%g", pattern, size, rate, secs),
		"-c:v", codec}
	if f.Bitrate != "" {
		args = append(args, "-b:v", f.Bitrate, "-maxrate", f.Bitrate, "-bufsize", f.Bitrate)
	}
	if f.GOP > 0 {
		args = append(args, "-g", strconv.Itoa(f.GOP))
	}
	args = append(args, "-rtpflags", "send_bye", "-cname", cname, "-f", "rtp")
	scheme := "rtp"
	if f.Key != nil {
		scheme = "srtp"
		args = append(args, "-srtp_out_suite", Suite, "-srtp_out_params", FFmpegKey(f.Key))
	}
	return append(args, fmt.Sprintf("%s://%s?rtcpport=%d&pkt_size=%d", scheme, f.RTP, f.rtcpPort(), pkt))
}

// Start starts ffmpeg (skipping t without it); it is killed when the
// test ends. Wait for it with Proc.Done.
func (f FFmpegVideo) Start(t testing.TB) *testutil.Proc {
	t.Helper()
	return testutil.StartCmd(t, exec.Command(FFmpeg(t), f.Args()...))
}

// GstAudio is a GStreamer sender of generated audio (audiotestsrc, 8 kHz,
// 20 ms per packet, PCMA) through an rtpsession that sends SR+SDES every
// 100 ms and SR+SDES+BYE at the end: the last SR's packet count is every
// RTP packet sent. With rtcp-mux, RTP and RTCP share one udpsink (a
// funnel), so they arrive in the order sent.
type GstAudio struct {
	Sender
	// Packets is the number of 20 ms packets (default 50).
	Packets int
}

// Args returns gst-launch-1.0's arguments: the pipeline.
func (g GstAudio) Args() []string {
	n := g.Packets
	if n == 0 {
		n = 50
	}
	host := g.RTP.Addr().String()
	sink := func(port uint16) []string {
		return []string{"udpsink", "host=" + host, "port=" + strconv.Itoa(int(port))}
	}
	args := []string{"-q", "rtpsession", "name=s", "rtcp-min-interval=100000000",
		"audiotestsrc", "num-buffers=" + strconv.Itoa(n), "samplesperbuffer=160", "is-live=true", "!",
		"audio/x-raw,rate=8000,channels=1", "!", "alawenc", "!", "rtppcmapay", "!", "s.send_rtp_sink"}
	rtpOut, rtcpOut := "s.send_rtp_src", "s.send_rtcp_src"
	if g.Key != nil {
		args = append(args, "srtpenc", "name=e", "key="+GstKey(g.Key),
			"rtp-cipher=aes-128-icm", "rtp-auth=hmac-sha1-80", "rtcp-cipher=aes-128-icm", "rtcp-auth=hmac-sha1-80",
			rtpOut, "!", "e.rtp_sink_0", rtcpOut, "!", "e.rtcp_sink_0")
		rtpOut, rtcpOut = "e.rtp_src_0", "e.rtcp_src_0"
	}
	if g.rtcpPort() == g.RTP.Port() {
		args = append(args, rtpOut, "!", "funnel", "name=f", "!")
		args = append(args, sink(g.RTP.Port())...)
		return append(args, rtcpOut, "!", "f.")
	}
	args = append(append(args, rtpOut, "!"), sink(g.RTP.Port())...)
	return append(append(args, rtcpOut, "!"), sink(g.rtcpPort())...)
}

// Start starts gst-launch-1.0 (skipping t without it or its plugins); it
// is killed when the test ends.
func (g GstAudio) Start(t testing.TB) *testutil.Proc {
	t.Helper()
	return testutil.StartCmd(t, exec.Command(GstLaunch(t), g.Args()...))
}
