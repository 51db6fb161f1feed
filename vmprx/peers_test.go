package vmprx_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/mediapeer"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/vmprx"
)

// Real senders: ffmpeg's RTP muxer and GStreamer's rtpsession send
// generated media to VMP[rx] ports. Every check is a count against what
// the sender itself reports: its last RTCP SR (sent with its BYE) counts
// every RTP packet and payload octet it sent. What loopback dropped is
// read from the kernel (/proc/net/udp, the same count SO_RXQ_OVFL gives
// Stats.KernelDrops), so the counts hold on a busy machine too: received
// plus dropped equals sent.

// peerQueue is the queue of the VMP[rx]s here: seconds of each stream,
// so that a reader the scheduler holds back does not overrun it.
const peerQueue = 8192

// peerStream is what a test read of one sender's stream.
type peerStream struct {
	rtp, payload uint64 // RTP packets and payload octets read
	last         mediapeer.Compound
	compounds    []mediapeer.Compound
	bye          bool
}

// peerReading reads a VMP[rx] until every expected sender has sent its
// BYE, checking where each packet arrived.
type peerReading struct {
	t        *testing.T
	v        *vmprx.VMPRx
	mux      bool
	streams  map[uint32]*peerStream
	newSSRCs []uint32
	buf      []byte
}

func newPeerReading(t *testing.T, v *vmprx.VMPRx, mux bool) *peerReading {
	return &peerReading{t: t, v: v, mux: mux, streams: map[uint32]*peerStream{}, buf: make([]byte, 2048)}
}

func (r *peerReading) stream(ssrc uint32) *peerStream {
	s := r.streams[ssrc]
	if s == nil {
		s = &peerStream{}
		r.streams[ssrc] = s
	}
	return s
}

// until reads until done holds, failing after testutil.Patience or when
// the senders exited without it.
func (r *peerReading) until(what string, done func() bool, senders ...*testutil.Proc) {
	r.t.Helper()
	ev, _ := r.v.Event()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	for !done() {
		st, err := r.v.Status()
		if err != nil {
			r.t.Fatal(err)
		}
		switch st {
		case vmprx.NewSSRC:
			s, _ := r.v.NewSSRC()
			r.newSSRCs = append(r.newSSRCs, s)
		case vmprx.Overrun:
			r.t.Errorf("Overrun: the test reads as fast as it can, the queue must not fill")
		case vmprx.HasPacket:
			r.drain()
		case vmprx.Stopped:
			r.t.Fatalf("VMP[rx] stopped: %v", r.v.Err())
		case vmprx.Running:
			wctx, wcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := ev.Wait(wctx)
			wcancel()
			if ctx.Err() != nil {
				var outs []string
				for _, p := range senders {
					outs = append(outs, p.Output())
				}
				r.t.Fatalf("%s: not after %v: streams %s; sender output %q", what, testutil.Patience, r, outs)
			}
			_ = err // a timeout only polls again
		}
	}
}

func (r *peerReading) drain() {
	for {
		pkt, err := r.v.GetPacket(r.buf)
		if errors.Is(err, vmprx.ErrNoPacket) {
			return
		}
		if err != nil {
			r.t.Fatal(err)
		}
		p := r.buf[:pkt.Len]
		switch pkt.Class {
		case vmprx.ClassRTP:
			if pkt.RTCPPort {
				r.t.Errorf("RTP reported on the RTCP port")
			}
			s := r.stream(binary.BigEndian.Uint32(p[8:]))
			s.rtp++
			s.payload += uint64(rtpPayloadLen(p))
		case vmprx.ClassRTCP:
			if pkt.RTCPPort == r.mux {
				r.t.Errorf("RTCP with RTCPPort %v, rtcp-mux %v", pkt.RTCPPort, r.mux)
			}
			c, err := mediapeer.ParseRTCP(p)
			if err != nil || !c.SR {
				r.t.Errorf("RTCP %x: %+v %v (the senders send SR compounds)", p, c, err)
				continue
			}
			s := r.stream(c.SSRC)
			s.compounds = append(s.compounds, c)
			s.last = c
			if slices.Contains(c.Types, mediapeer.BYE) {
				s.bye = true
			}
		default:
			r.t.Errorf("GetPacket returned class %v", pkt.Class)
		}
	}
}

func (r *peerReading) String() string {
	var b bytes.Buffer
	for ssrc, s := range r.streams {
		fmt.Fprintf(&b, "[%08x: %d RTP, %d RTCP, last %+v, bye %v] ", ssrc, s.rtp, len(s.compounds), s.last, s.bye)
	}
	return b.String()
}

// byes returns a condition: n streams have sent their BYE, and for each
// the RTP read plus what the kernel dropped on the RTP socket reaches the
// count of its last SR. On separate ports the BYE may be read before
// the RTP socket's backlog is: the reading goes on until the RTP is in
// (or testutil.Patience ends it, and checkStream tells what is missing).
func (r *peerReading) byes(n int) func() bool {
	return func() bool {
		k := 0
		for _, s := range r.streams {
			if s.bye && s.rtp+procDrops(r.t, r.v) >= uint64(s.last.PacketCount) {
				k++
			}
		}
		return k >= n
	}
}

// rtpPayloadLen is the payload length of a valid RTP packet: what an SR's
// octet count counts.
func rtpPayloadLen(p []byte) int {
	n := len(p) - 12 - 4*int(p[0]&0x0f)
	if p[0]&0x10 != 0 {
		ext := 12 + 4*int(p[0]&0x0f)
		n -= 4 + 4*int(binary.BigEndian.Uint16(p[ext+2:]))
	}
	if p[0]&0x20 != 0 {
		n -= int(p[len(p)-1])
	}
	return n
}

// procDrops is what the kernel dropped on the VMP[rx]'s RTP socket.
func procDrops(t *testing.T, v *vmprx.VMPRx) uint64 {
	return testutil.KernelDrops(t, vmprx.PortConn(v, false))
}

// checkStream checks one sender's stream against its last SR: it came
// with SDES (CNAME) and BYE, and counts every RTP packet read plus those
// the kernel dropped (drops, 0 when none may be attributed elsewhere) and,
// with no drops, every payload octet.
func checkStream(t *testing.T, r *peerReading, ssrc uint32, drops uint64, cname string) {
	t.Helper()
	s := r.streams[ssrc]
	if s == nil || !s.bye {
		t.Fatalf("no BYE from %08x: %s", ssrc, r)
	}
	for i, c := range s.compounds {
		if len(c.Types) < 2 || c.Types[0] != mediapeer.SR || c.Types[1] != mediapeer.SDES {
			t.Errorf("compound %d of %08x: types %v, want SR, SDES first", i, ssrc, c.Types)
		}
	}
	want := []uint8{mediapeer.SR, mediapeer.SDES, mediapeer.BYE}
	if !slices.Equal(s.last.Types, want) {
		t.Errorf("last compound of %08x: types %v, want %v (SR, SDES, BYE)", ssrc, s.last.Types, want)
	}
	if cname != "" && s.last.CNAME != cname {
		t.Errorf("CNAME %q, want %q", s.last.CNAME, cname)
	}
	if s.rtp+drops != uint64(s.last.PacketCount) {
		t.Errorf("%08x: read %d RTP, kernel dropped %d; the sender's last SR counts %d", ssrc, s.rtp, drops, s.last.PacketCount)
	}
	if drops == 0 && s.payload != uint64(s.last.OctetCount) {
		t.Errorf("%08x: read %d payload octets; the sender's last SR counts %d", ssrc, s.payload, s.last.OctetCount)
	}
	if !slices.Contains(r.newSSRCs, ssrc) {
		t.Errorf("NewSSRC reported %x, not the sender's %08x", r.newSSRCs, ssrc)
	}
	t.Logf("%08x: %d RTP (%d octets) + %d dropped by the kernel = SR %d; %d RTCP compounds", ssrc, s.rtp, s.payload,
		drops, s.last.PacketCount, len(s.compounds))
}

// checkClean checks the counters a clean stream leaves at 0.
func checkClean(t *testing.T, v *vmprx.VMPRx) vmprx.Stats {
	t.Helper()
	st, _ := v.Stats()
	if st.Misdirected != 0 || st.Malformed != 0 || st.Unknown != 0 || st.Short != 0 || st.Overrun != 0 ||
		st.SRTPAuth != 0 || st.SRTPReplay != 0 || st.Truncated != 0 {
		t.Errorf("stats %+v", st)
	}
	return st
}

func layouts() []struct {
	name string
	mux  bool
} {
	return []struct {
		name string
		mux  bool
	}{{"SeparatePorts", false}, {"RTCPMux", true}}
}

// sender returns the mediapeer.Sender for a VMP[rx]'s ports.
func peerSender(t *testing.T, v *vmprx.VMPRx, key []byte) mediapeer.Sender {
	rtp, rtcp, err := v.Ports()
	if err != nil {
		t.Fatal(err)
	}
	return mediapeer.Sender{RTP: rtp, RTCPPort: rtcp.Port(), Key: key}
}

// TestFFmpegSender: ffmpeg sends a second of generated video (mpeg4) to
// a VMP[rx], on separate RTP and RTCP ports and with rtcp-mux
// (?rtcpport=): every datagram is classified RTP or RTCP on the port it
// belongs to, the SSRC is reported with NewSSRC, the RTCP is SR (with
// SDES) and SR+SDES+BYE at the end, whose packet and octet counts are
// what was read (plus the kernel's drops, if any).
func TestFFmpegSender(t *testing.T) {
	mediapeer.FFmpeg(t)
	for _, l := range layouts() {
		t.Run(l.name, func(t *testing.T) {
			mod := openModule(t, mediaport.Options{})
			v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: l.mux, QueueLen: peerQueue})
			r := newPeerReading(t, v, l.mux)
			ff := mediapeer.FFmpegVideo{Sender: peerSender(t, v, nil), CNAME: "ffmpeg-" + l.name}.Start(t)
			r.until("ffmpeg's BYE", r.byes(1), ff)
			checkClean(t, v)
			if len(r.streams) != 1 {
				t.Fatalf("streams: %s", r)
			}
			for ssrc := range r.streams {
				checkStream(t, r, ssrc, procDrops(t, v), "ffmpeg-"+l.name)
			}
		})
	}
}

// TestGStreamerSender: the same with GStreamer's rtpsession sending PCMA
// (SR+SDES every 100 ms, SR+SDES+BYE at the end), with rtcp-mux through
// a funnel into one udpsink.
func TestGStreamerSender(t *testing.T) {
	mediapeer.GstLaunch(t)
	for _, l := range layouts() {
		t.Run(l.name, func(t *testing.T) {
			mod := openModule(t, mediaport.Options{})
			v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: l.mux, QueueLen: peerQueue})
			r := newPeerReading(t, v, l.mux)
			gst := mediapeer.GstAudio{Sender: peerSender(t, v, nil)}.Start(t)
			r.until("GStreamer's BYE", r.byes(1), gst)
			checkClean(t, v)
			if len(r.streams) != 1 {
				t.Fatalf("streams: %s", r)
			}
			for ssrc := range r.streams {
				checkStream(t, r, ssrc, procDrops(t, v), "")
			}
		})
	}
}

// TestTwoSenders: ffmpeg and GStreamer send to one rtcp-mux port at
// once: two SSRCs, each reported once with NewSSRC, each stream counted
// against its own sender's last SR.
func TestTwoSenders(t *testing.T) {
	mediapeer.FFmpeg(t)
	mediapeer.GstLaunch(t)
	mod := openModule(t, mediaport.Options{})
	v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, QueueLen: peerQueue})
	r := newPeerReading(t, v, true)
	snd := peerSender(t, v, nil)
	ff := mediapeer.FFmpegVideo{Sender: snd, CNAME: "ffmpeg"}.Start(t)
	gst := mediapeer.GstAudio{Sender: snd}.Start(t)
	r.until("both BYEs", r.byes(2), ff, gst)
	checkClean(t, v)
	if len(r.streams) != 2 || len(r.newSSRCs) != 2 {
		t.Fatalf("streams %s, NewSSRC %x", r, r.newSSRCs)
	}
	drops := procDrops(t, v)
	var sum, sr uint64
	for ssrc, s := range r.streams {
		sum += s.rtp
		sr += uint64(s.last.PacketCount)
		if drops == 0 {
			checkStream(t, r, ssrc, 0, "")
		}
	}
	if sum+drops != sr {
		t.Errorf("read %d RTP, kernel dropped %d, the SRs count %d", sum, drops, sr)
	}
}

// srtpKeys returns a random master key and salt for mediapeer.Suite and
// the session that receives what a peer protects with it.
func srtpKeys(t *testing.T) ([]byte, *srtp.Session) {
	key := make([]byte, mediapeer.KeyLen)
	rand.Read(key)
	other := make([]byte, mediapeer.KeyLen)
	rand.Read(other)
	s, err := srtp.New(association.SRTPKeys{Profile: association.SRTP_AES128_CM_HMAC_SHA1_80,
		RemoteKey: key[:16], RemoteSalt: key[16:], LocalKey: other[:16], LocalSalt: other[16:]})
	if err != nil {
		t.Fatal(err)
	}
	return key, s
}

// TestSRTPSenders: ffmpeg (-srtp_out_suite AES_CM_128_HMAC_SHA1_80,
// srtp://) and GStreamer (srtpenc) send SRTP and SRTCP to a VMP[rx]
// configured with the same key: every packet and every report
// authenticates and decrypts (SRTPAuth 0), and the decrypted SRs count
// what was read.
func TestSRTPSenders(t *testing.T) {
	for _, peer := range []string{"ffmpeg", "gstreamer"} {
		for _, l := range layouts() {
			t.Run(peer+"/"+l.name, func(t *testing.T) {
				mod := openModule(t, mediaport.Options{})
				v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: l.mux, QueueLen: peerQueue})
				key, sess := srtpKeys(t)
				if err := v.ConfigSRTP(sess); err != nil {
					t.Fatal(err)
				}
				r := newPeerReading(t, v, l.mux)
				var p *testutil.Proc
				if peer == "ffmpeg" {
					p = mediapeer.FFmpegVideo{Sender: peerSender(t, v, key)}.Start(t)
				} else {
					p = mediapeer.GstAudio{Sender: peerSender(t, v, key)}.Start(t)
				}
				r.until(peer+"'s BYE", r.byes(1), p)
				st := checkClean(t, v)
				for ssrc := range r.streams {
					checkStream(t, r, ssrc, procDrops(t, v), "")
				}
				if st.RTCP < 2 {
					t.Errorf("%d SRTCP reports decrypted", st.RTCP)
				}
			})
		}
	}
}
