package vmprx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/srtptest"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/vmprx"
)

func mustEncrypt(t testing.TB, tx *srtp.Session, p []byte) []byte {
	t.Helper()
	var e []byte
	var err error
	if vmprx.Classify(p) == vmprx.ClassRTCP {
		e, err = tx.EncryptRTCP(nil, p)
	} else {
		e, err = tx.EncryptRTP(nil, p)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func flip(p []byte, i int) []byte {
	q := bytes.Clone(p)
	q[i] ^= 0x40
	return q
}

// TestSRTPReceive: a VMP[rx] with ConfigSRTP, in both read modes, with
// and without rtcp-mux: genuine SRTP and SRTCP come out of GetPacket
// decrypted, in order; tampered, forged, plain and replayed datagrams are
// counted (SRTPAuth, SRTPReplay) and never delivered, and an SSRC seen
// only on such datagrams is never reported with NewSSRC.
func TestSRTPReceive(t *testing.T) {
	for _, profile := range []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM, association.SRTP_AES128_CM_HMAC_SHA1_80} {
		for _, callerReads := range []bool{false, true} {
			for _, mux := range []bool{true, false} {
				t.Run(fmt.Sprintf("%v/callerReads=%v/mux=%v", profile, callerReads, mux), func(t *testing.T) {
					testSRTPReceive(t, profile, callerReads, mux)
				})
			}
		}
	}
}

func testSRTPReceive(t *testing.T, profile association.SRTPProfile, callerReads, mux bool) {
	mod := openModule(t, mediaport.Options{})
	v, rtpPort, rtcpPort := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: mux, CallerReads: callerReads})
	tx, rx := srtptest.Pair(t, profile)
	if err := v.ConfigSRTP(rx); err != nil {
		t.Fatal(err)
	}
	s := sender(t, lo4)
	one, two, three := rtpPacket(1, 1, "one"), rtpPacket(1, 2, "two"), rtpPacket(5, 1, "three")
	rr := rtcpPacket(1)
	encOne := mustEncrypt(t, tx, one)
	forged := append(rtpPacket(3, 9, "forged"), make([]byte, 16)...)
	sends := []struct {
		p    []byte
		rtcp bool
	}{
		{encOne, false},
		{flip(mustEncrypt(t, tx, rtpPacket(2, 1, "tampered")), 14), false}, // new SSRC, bad
		{mustEncrypt(t, tx, two), false},
		{encOne, false}, // replay
		{forged, false},
		{mustEncrypt(t, tx, rr), true},
		{flip(mustEncrypt(t, tx, rtcpPacket(1)), 9), true},
		{rtpPacket(4, 1, "plain RTP"), false},
		{mustEncrypt(t, tx, three), false},
	}
	for i, d := range sends {
		dst := rtpPort
		if d.rtcp {
			dst = rtcpPort
		}
		if _, err := s.WriteTo(d.p, dst); err != nil {
			t.Fatal(err)
		}
		if !callerReads {
			// One at a time, so that the two ports' order is the sending order.
			waitStats(t, v, func(st vmprx.Stats) bool { return st.RTP+st.RTCP+st.SRTPAuth+st.SRTPReplay > uint64(i) })
		}
	}
	want := [][]byte{one, two, rr, three}
	if !mux && callerReads {
		want = [][]byte{one, two, three, rr} // the RTP port is read first
	}
	ev, _ := v.Event()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got [][]byte
	var ssrcs []uint32
	buf := make([]byte, 2048)
	for {
		st, err := v.Status()
		if err != nil {
			t.Fatal(err)
		}
		switch st {
		case vmprx.NewSSRC:
			ssrc, _ := v.NewSSRC()
			ssrcs = append(ssrcs, ssrc)
			continue
		case vmprx.HasPacket:
			pkt, err := v.GetPacket(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, bytes.Clone(buf[:pkt.Len]))
			continue
		case vmprx.GotPorts:
			continue
		}
		stats, _ := v.Stats()
		if len(got) >= len(want) && stats.SRTPAuth+stats.SRTPReplay >= 5 {
			break
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatalf("got %d packets, stats %+v", len(got), stats)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("packet %d: %x, want %x", i, got[i], want[i])
		}
	}
	st, _ := v.Stats()
	if st.RTP != 3 || st.RTCP != 1 || st.SRTPAuth != 4 || st.SRTPReplay != 1 || st.Misdirected != 0 {
		t.Errorf("stats %+v: want RTP 3, RTCP 1, SRTPAuth 4, SRTPReplay 1", st)
	}
	if !slices.Equal(ssrcs, []uint32{1, 5}) {
		t.Errorf("NewSSRC reported %v, want [1 5]: only authenticated SSRCs", ssrcs)
	}

	// Off again: SRTP passes through as it came.
	if err := v.ConfigSRTP(nil); err != nil {
		t.Fatal(err)
	}
	raw := mustEncrypt(t, tx, rtpPacket(1, 3, "raw"))
	if _, err := s.WriteTo(raw, rtpPort); err != nil {
		t.Fatal(err)
	}
	for {
		pkt, err := v.GetPacket(buf)
		if err == nil {
			if !bytes.Equal(buf[:pkt.Len], raw) {
				t.Fatalf("without SRTP: %x, want the datagram as sent", buf[:pkt.Len])
			}
			break
		}
		if !errors.Is(err, vmprx.ErrNoPacket) {
			t.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatal("the datagram sent without SRTP never came")
		}
	}
}

// TestConfigSRTPErrors: misuse of the handle.
func TestConfigSRTPErrors(t *testing.T) {
	var v *vmprx.VMPRx
	if err := v.ConfigSRTP(nil); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatalf("nil VMP[rx]: %v", err)
	}
	mod := openModule(t, mediaport.Options{})
	v, _ = vmprx.Create(mod)
	_, rx := srtptest.Pair(t, association.SRTP_AEAD_AES_256_GCM)
	if err := v.ConfigSRTP(rx); err != nil {
		t.Fatalf("before Config: %v", err)
	}
	v.Destroy()
	if err := v.ConfigSRTP(rx); !errors.Is(err, mediaport.ErrDestroyed) {
		t.Fatalf("after Destroy: %v", err)
	}
}
