package dispatcher_test

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/internal/mediapeer"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/srtp"
)

// pcmu returns RTP packet i of a PCMU stream (payload type 0, 20 ms, a
// 500 Hz square wave in mu-law) from ssrc.
func pcmu(ssrc uint32, i int) []byte {
	p := make([]byte, 12+160)
	p[0], p[1] = 0x80, 0
	binary.BigEndian.PutUint16(p[2:], uint16(1000+i))
	binary.BigEndian.PutUint32(p[4:], uint32(160*i))
	binary.BigEndian.PutUint32(p[8:], ssrc)
	for k := range 160 {
		p[12+k] = 0x20 // mu-law, about +4000
		if (k/8)%2 == 1 {
			p[12+k] = 0xa0 // about -4000
		}
	}
	return p
}

// TestSRTPToPeers: a dispatcher with ConfigSRTP sends SRTP (PCMU, one
// packet per 20 ms) to ffmpeg (an SDP with a=crypto, the srtp protocol)
// and to GStreamer (udpsrc, srtpdec, mulawdec) holding the same key:
// both authenticate, decrypt and decode it — ffmpeg's decoded samples and
// GStreamer's decoded buffers are counted, and the test sends until the
// decoder has a second of audio (loopback may drop some on the way).
func TestSRTPToPeers(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	for _, peer := range []string{"ffmpeg", "gstreamer"} {
		t.Run(peer, func(t *testing.T) {
			key := make([]byte, mediapeer.KeyLen)
			rand.Read(key)
			other := make([]byte, mediapeer.KeyLen)
			rand.Read(other)
			const ssrc = 0x5eed0001
			port := mediapeer.FreePortPair(t, lo)
			var p *testutil.Proc
			var decoded func() int
			if peer == "ffmpeg" {
				p = mediapeer.FFmpegSRTPReceiver{Addr: lo, Port: port, Key: key}.Start(t)
				decoded = func() int { return mediapeer.DecodedSamples(p.Output()) / 160 } // in packets' worth
			} else {
				p = mediapeer.GstSRTPReceiver{Addr: lo, Port: port, SSRC: ssrc, Key: key}.Start(t)
				decoded = func() int { return mediapeer.GstBuffers(p.Output()) }
			}
			mod := openModule(t)
			d, err := dispatcher.Create(mod, dispatcher.Config{Destination: netip.AddrPortFrom(lo, port), TOS: 0xb8})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Destroy()
			s, err := srtp.New(association.SRTPKeys{Profile: association.SRTP_AES128_CM_HMAC_SHA1_80,
				LocalKey: key[:16], LocalSalt: key[16:], RemoteKey: other[:16], RemoteSalt: other[16:]})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.ConfigSRTP(s); err != nil {
				t.Fatal(err)
			}
			const want = 50 // a second of audio
			deadline := time.Now().Add(testutil.Patience)
			sent := 0
			for decoded() < want {
				if p.Exited() || time.Now().After(deadline) {
					t.Fatalf("%s decoded %d packets' worth of %d sent:\n%s", peer, decoded(), sent, p.Output())
				}
				if err := d.Send(pcmu(ssrc, sent)); err != nil {
					t.Fatal(err)
				}
				sent++
				time.Sleep(20 * time.Millisecond) // the stream's pace, so the peer's buffers keep up
			}
			if n := decoded(); n > sent {
				t.Fatalf("%s decoded %d packets' worth, more than the %d sent", peer, n, sent)
			}
			t.Logf("%s decoded %d packets' worth of the %d sent", peer, decoded(), sent)
		})
	}
}
