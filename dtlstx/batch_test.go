package dtlstx_test

import (
	"errors"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// TestSendPacketsPassThrough: in pass-through mode SendPackets sends the
// raw datagrams, each whole — runs of one length (one segmented message
// where the kernel offloads) and others —, from a VMP[rx]'s socket when
// Local names its port, and counts them; a reconfigured destination gets
// the next batch; steady use does not allocate.
func TestSendPacketsPassThrough(t *testing.T) {
	mod := openModule(t)
	v, err := vmprx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Destroy() })
	if err := v.Config(vmprx.Config{Local: lo4, RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	media, _, _ := v.Ports()
	peer, other := listen(t, lo4), listen(t, lo4)
	tx, _ := dtlstx.Create(mod)
	t.Cleanup(func() { tx.Destroy() })
	if err := tx.Config(dtlstx.Config{Destination: peer.LocalAddr(), Local: media}); err != nil {
		t.Fatal(err)
	}
	pkts := [][]byte{[]byte("aaaa"), []byte("bbbb"), []byte("cccc"), []byte("dd"), []byte("eeeeeeee"), []byte("f")}
	if n, err := tx.SendPackets(pkts); n != len(pkts) || err != nil {
		t.Fatalf("SendPackets: %d, %v", n, err)
	}
	want := map[string]bool{}
	for _, p := range pkts {
		want[string(p)] = true
	}
	for range pkts {
		got, src := recvFrom(t, peer)
		if !want[got] || src != media {
			t.Fatalf("peer got %q from %v: not sent, or twice, or not from the media port %v", got, src, media)
		}
		delete(want, got)
	}
	if st, _ := tx.Stats(); st.Packets != 6 || st.Bytes != 23 {
		t.Fatalf("Stats %+v", st)
	}
	if err := tx.Config(dtlstx.Config{Destination: other.LocalAddr(), Local: media}); err != nil {
		t.Fatal(err)
	}
	if n, err := tx.SendPackets(pkts[:1]); n != 1 || err != nil {
		t.Fatalf("SendPackets after Config: %d, %v", n, err)
	}
	if got, _ := recvFrom(t, other); got != "aaaa" {
		t.Fatalf("new destination got %q", got)
	}
	big := make([][]byte, 4)
	for i := range big {
		big[i] = make([]byte, 1200)
	}
	testutil.NoAllocs(t, "SendPackets", func() { tx.SendPackets(big) })
	if err := v.Stop(); err != nil { // the socket it shares closes
		t.Fatal(err)
	}
	if _, err := tx.SendPackets(pkts); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("after the VMP[rx] stopped: %v", err)
	}
}
