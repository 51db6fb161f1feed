package vmprx_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/vmprx"
)

// TestConfigDTLSNullAndMove (docs/conformance.md, Prosody 6), on separate
// RTP and RTCP ports: the null DTLS[rx] stops DTLS on both ports whichever
// port it names; a DTLS[rx] moved from one port to the other no longer
// gets the first port's DTLS, and the port it left can take another.
func TestConfigDTLSNullAndMove(t *testing.T) {
	buf := make([]byte, 100)
	expect := func(t *testing.T, rx *dtlsrx.DTLSRx, want ...string) {
		t.Helper()
		for _, w := range want {
			if n, _, err := rx.GetPacket(buf); err != nil || !bytes.Equal(buf[:n], dtlsRecord(w)) {
				t.Fatalf("got %q %v, want %q", buf[:n], err, w)
			}
		}
		if _, _, err := rx.GetPacket(buf); !errors.Is(err, dtlsrx.ErrNoPacket) {
			t.Fatalf("one record too many after %q: %v", want, err)
		}
	}
	for _, null := range []bool{false, true} { // the port the null DTLS[rx] names
		mod := openModule(t, mediaport.Options{})
		v, rtpPort, rtcpPort := newVMP(t, mod, vmprx.Config{Local: lo4})
		rx, _ := dtlsrx.Create(mod)
		rx2, _ := dtlsrx.Create(mod)
		s := sender(t, lo4)
		v.ConfigDTLS(rx, false)
		v.ConfigDTLS(rx2, true)
		s.WriteTo(dtlsRecord("rtp"), rtpPort)
		s.WriteTo(dtlsRecord("rtcp"), rtcpPort)
		waitStats(t, v, func(st vmprx.Stats) bool { return st.DTLS == 2 })
		expect(t, rx, "rtp")
		expect(t, rx2, "rtcp")

		if err := v.ConfigDTLS(nil, null); err != nil {
			t.Fatal(err)
		}
		s.WriteTo(dtlsRecord("rtp after null"), rtpPort)
		s.WriteTo(dtlsRecord("rtcp after null"), rtcpPort)
		waitStats(t, v, func(st vmprx.Stats) bool { return st.DTLS == 4 })
		if st, _ := v.Stats(); st.DTLSUnrouted != 2 {
			t.Fatalf("null DTLS[rx] on the %v port: %d unrouted, want both ports' 2", map[bool]string{false: "RTP", true: "RTCP"}[null], st.DTLSUnrouted)
		}
		expect(t, rx)
		expect(t, rx2)
	}

	// Moving.
	mod := openModule(t, mediaport.Options{})
	v, rtpPort, rtcpPort := newVMP(t, mod, vmprx.Config{Local: lo4})
	rx, _ := dtlsrx.Create(mod)
	s := sender(t, lo4)
	v.ConfigDTLS(rx, false)
	v.ConfigDTLS(rx, true) // moved to the RTCP port
	s.WriteTo(dtlsRecord("left behind"), rtpPort)
	s.WriteTo(dtlsRecord("moved"), rtcpPort)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.DTLS == 2 })
	if st, _ := v.Stats(); st.DTLSUnrouted != 1 {
		t.Fatalf("after the move: %d unrouted, want the RTP port's 1", st.DTLSUnrouted)
	}
	expect(t, rx, "moved")
	// And back; the RTCP port then takes another DTLS[rx].
	v.ConfigDTLS(rx, false)
	rx2, _ := dtlsrx.Create(mod)
	v.ConfigDTLS(rx2, true)
	s.WriteTo(dtlsRecord("rtp again"), rtpPort)
	s.WriteTo(dtlsRecord("rtcp to rx2"), rtcpPort)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.DTLS == 4 })
	expect(t, rx, "rtp again")
	expect(t, rx2, "rtcp to rx2")
}
