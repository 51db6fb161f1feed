package dispatcher_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"

	pionrtp "github.com/pion/rtp"
	pionsrtp "github.com/pion/srtp/v3"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/srtp"
)

// The SRTP send pairs: the delivery pairs of BenchmarkSend and
// BenchmarkSendBatch with SRTP_AEAD_AES_128_GCM. Mediaport's side sends
// plain RTP of 1200 bytes (its sequence number advanced each time)
// through a dispatcher with ConfigSRTP, which protects each into its own
// buffer; the baseline protects the same packets with pion's
// Context.EncryptRTP into a reused buffer and a reused header and sends
// them one by one with net.UDPConn.WriteToUDP.

func srtpSendKeys() association.SRTPKeys {
	fill := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	return association.SRTPKeys{Profile: association.SRTP_AEAD_AES_128_GCM,
		LocalKey: fill(16, 1), LocalSalt: fill(12, 2), RemoteKey: fill(16, 3), RemoteSalt: fill(12, 4)}
}

func srtpPlain(n int) [][]byte {
	pkts := make([][]byte, n)
	for i := range pkts {
		p := make([]byte, benchPacket-16) // 1200 bytes with the GCM tag
		p[0], p[1] = 0x80, 111
		binary.BigEndian.PutUint32(p[8:], 0x5eed)
		pkts[i] = p
	}
	return pkts
}

// benchSRTPDelivery runs the pair, chunk datagrams per call on
// mediaport's side.
func benchSRTPDelivery(b *testing.B, chunk int) {
	var rOurs, rBase *benchRecv
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side {
		rOurs = benchReceiver(b)
		d, err := dispatcher.Create(openModule(b), dispatcher.Config{
			Destination: rOurs.addr,
			Local:       netip.MustParseAddrPort("127.0.0.1:0"),
		})
		if err != nil {
			b.Fatal(err)
		}
		s, err := srtp.New(srtpSendKeys())
		if err != nil {
			b.Fatal(err)
		}
		d.ConfigSRTP(s)
		pkts := srtpPlain(chunk)
		seq := uint16(0)
		return rOurs.side(b, chunk, func(k int) error {
			for _, p := range pkts[:k] {
				seq++
				binary.BigEndian.PutUint16(p[2:], seq)
			}
			if chunk == 1 {
				return d.Send(pkts[0])
			}
			n, err := d.SendBatch(pkts[:k])
			if err == nil && n != k {
				err = fmt.Errorf("SendBatch sent %d of %d", n, k)
			}
			return err
		})
	}, func(b *testing.B) benchpair.Side {
		rBase = benchReceiver(b)
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		dst := net.UDPAddrFromAddrPort(rBase.addr)
		k := srtpSendKeys()
		ctx, err := pionsrtp.CreateContext(k.LocalKey, k.LocalSalt, pionsrtp.ProtectionProfileAeadAes128Gcm)
		if err != nil {
			b.Fatal(err)
		}
		p := srtpPlain(1)[0]
		buf := make([]byte, 0, benchPacket+srtp.Overhead)
		var hdr pionrtp.Header
		seq := uint16(0)
		return rBase.side(b, 1, func(int) error {
			seq++
			binary.BigEndian.PutUint16(p[2:], seq)
			out, err := ctx.EncryptRTP(buf, p, &hdr)
			if err != nil {
				return err
			}
			_, err = c.WriteToUDP(out, dst)
			return err
		})
	})
	rOurs.report(b, "mediaport")
	rBase.report(b, "baseline")
}

// BenchmarkSendSRTP: Dispatcher.Send with SRTP against pion's EncryptRTP
// and WriteToUDP, by datagrams delivered.
func BenchmarkSendSRTP(b *testing.B) { benchSRTPDelivery(b, 1) }

// BenchmarkSendBatchSRTP: Dispatcher.SendBatch of 32 datagrams with SRTP
// (protected one by one, sent in one sendmmsg with segmentation offload)
// against the same protected and sent one by one, by datagrams delivered.
func BenchmarkSendBatchSRTP(b *testing.B) { benchSRTPDelivery(b, 32) }
