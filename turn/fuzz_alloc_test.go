package turn_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/turn"
)

// FuzzAllocationReceive feeds arbitrary datagrams to the receive path of
// an allocation (Allocated on the embedded pion/turn, one channel bound),
// as if its server — or, with foreign, someone else — had sent them.
// Nothing panics; a foreign datagram is only counted; peer data reaches
// the queue only as ChannelData on the bound channel or a Data indication
// from the server, with the payload it carried; the allocation never
// leaves Allocated (no transaction is pending, so no datagram can end it).
func FuzzAllocationReceive(f *testing.F) {
	p := testutil.StartPionTURN(f)
	clk := clock.NewFake(time.Now()) // never advanced: nothing retransmits or expires
	mod := openModule(f, clk)
	a, _ := turn.Create(mod)
	f.Cleanup(func() { a.Destroy() })
	a.Config(turn.Config{Server: p.Addr, Username: p.User, Password: p.Password, Local: netip.AddrPortFrom(lo, 0)})
	if st, err := waitStatus(f, a, turn.Allocated, testutil.Patience); st != turn.Allocated {
		f.Fatalf("%v %v", st, err)
	}
	peer := echoPeer(f)
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	ch, err := a.ChannelBind(ctx, peer)
	if err != nil {
		f.Fatal(err)
	}
	testutil.Eventually(f, testutil.Patience, func() bool {
		if turn.Transactions(a) == 0 {
			return true
		}
		clk.Advance(time.Second) // ends the lingering of the answered requests
		return false
	}, "ChannelBind still in progress")
	if st, _ := a.Status(); st != turn.Running && st != turn.Allocated {
		f.Fatalf("status %v", st)
	}
	server := a.Server()
	foreignSrc := netip.AddrPortFrom(lo, 9)

	cd, _ := turn.AppendChannelData(nil, ch, []byte("payload"), false)
	f.Add(cd, false)
	f.Add(cd, true)
	unbound, _ := turn.AppendChannelData(nil, ch+1, []byte("x"), false)
	f.Add(unbound, false)
	f.Add(cd[:3], false)
	f.Add([]byte{0x40, 0x00, 0xff, 0xff, 1}, false)
	withData := pionstun.MustBuild(pionstun.TransactionID, pionstun.NewType(pionstun.MethodData, pionstun.ClassIndication),
		pionstun.RawAttribute{Type: pionstun.AttrXORPeerAddress, Value: xorPeer(peer)},
		pionstun.RawAttribute{Type: pionstun.AttrData, Value: []byte("indicated")})
	f.Add(withData.Raw, false)
	f.Add(withData.Raw, true)
	f.Add(pionstun.MustBuild(pionstun.TransactionID, pionstun.NewType(pionstun.MethodAllocate, pionstun.ClassSuccessResponse)).Raw, false)
	f.Add(pionstun.MustBuild(pionstun.TransactionID, pionstun.NewType(pionstun.MethodRefresh, pionstun.ClassErrorResponse),
		pionstun.ErrorCodeAttribute{Code: 437}).Raw, false)
	f.Add(pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest).Raw, false)
	f.Add([]byte{}, false)
	f.Add([]byte{0x80, 0, 0, 0}, false)

	buf := make([]byte, 70000)
	// The path works: the bound channel's data is delivered, another's not.
	if !turn.Receive(a, cd, server) || turn.Receive(a, unbound, server) || turn.Receive(a, cd, foreignSrc) {
		f.Fatal("ChannelData not delivered as bound")
	}
	if n, from, err := a.GetPacket(buf); err != nil || string(buf[:n]) != "payload" || from != peer {
		f.Fatalf("GetPacket: %q from %v, %v", buf[:n], from, err)
	}
	turn.Receive(a, withData.Raw, server) // queued by the session's indication callback
	if n, from, err := a.GetPacket(buf); err != nil || string(buf[:n]) != "indicated" || from != peer {
		f.Fatalf("GetPacket: %q from %v, %v", buf[:n], from, err)
	}
	f.Fuzz(func(t *testing.T, b []byte, foreign bool) {
		before, _ := a.Stats()
		src := server
		if foreign {
			src = foreignSrc
		}
		delivered := turn.Receive(a, b, src)
		after, _ := a.Stats()
		if foreign {
			if delivered || after.Foreign != before.Foreign+1 || after.Packets != before.Packets {
				t.Fatalf("foreign datagram: delivered %v, stats %+v → %+v", delivered, before, after)
			}
		}
		for {
			n, from, err := a.GetPacket(buf)
			if errors.Is(err, turn.ErrNoPacket) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got := buf[:n]
			if len(b) > 0 && b[0]&0xc0 == 0x40 {
				if binary.BigEndian.Uint16(b) != ch || from != peer || !bytes.Equal(got, b[4:4+n]) {
					t.Fatalf("ChannelData %x delivered %q from %v", b, got, from)
				}
			} else if !bytes.Contains(b, got) {
				t.Fatalf("Data indication %x delivered %q, which it does not hold", b, got)
			}
		}
		if st, _ := a.Status(); st == turn.Failed || st == turn.Stopped || st == turn.Allocating {
			t.Fatalf("%x left the allocation %v: %v", b, st, a.Err())
		}
	})
}

// xorPeer encodes addr as an XOR-PEER-ADDRESS value (IPv4).
func xorPeer(addr netip.AddrPort) []byte {
	v := make([]byte, 8)
	v[1] = 1
	binary.BigEndian.PutUint16(v[2:], addr.Port()^0x2112)
	ip := addr.Addr().As4()
	binary.BigEndian.PutUint32(v[4:], binary.BigEndian.Uint32(ip[:])^0x2112A442)
	return v
}
