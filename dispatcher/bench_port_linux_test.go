package dispatcher_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/mediaport/mediaport/dispatcher"
)

// BenchmarkSendBatchPortGSO: Dispatcher.SendBatch of 32 datagrams from a
// VMP[rx]'s port against the best a hand-written sender does on a socket
// of its own: the 32 datagrams in one sendmmsg message with UDP_SEGMENT
// (segmentation offload), the TOS set on the socket, by datagrams
// delivered. The ratio is the cost of the dispatcher and of sharing the
// VMP[rx]'s socket (the TOS control message), with the kernel's work
// alike on both sides.
func BenchmarkSendBatchPortGSO(b *testing.B) {
	const batch = 32
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = make([]byte, benchPacket)
	}
	benchPortDelivery(b, batch, batch, func(d *dispatcher.Dispatcher) func(int) error {
		return func(k int) error {
			n, err := d.SendBatch(pkts[:k])
			if err == nil && n != k {
				err = fmt.Errorf("SendBatch sent %d of %d", n, k)
			}
			return err
		}
	}, func(c *net.UDPConn, dst *net.UDPAddr) func(int) error {
		pc := ipv4.NewPacketConn(c)
		oob := make([]byte, unix.CmsgSpace(2))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
		binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], benchPacket)
		msgs := []ipv4.Message{{Buffers: pkts, OOB: oob, Addr: dst}}
		return func(k int) error {
			if k != batch {
				return fmt.Errorf("chunk of %d", k)
			}
			n, err := pc.WriteBatch(msgs, 0)
			if err == nil && n != 1 {
				err = fmt.Errorf("sendmmsg sent %d messages", n)
			}
			return err
		}
	})
}
