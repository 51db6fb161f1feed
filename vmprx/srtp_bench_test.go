package vmprx_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/pion/rtp"
	pionsrtp "github.com/pion/srtp/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/vmprx"
)

// BenchmarkReceiveSRTP: the backlog pair of BenchmarkReceive with
// SRTP_AEAD_AES_128_GCM media: a backlog of 64 SRTP packets of 1200 bytes
// drained through a VMP[rx] with ConfigSRTP (the receive goroutine
// authenticates and decrypts each in its pooled buffer, GetPacket copies
// the plain RTP out), against ReadFromUDPAddrPort and pion's
// Context.DecryptRTP in place, one by one, on the same packets from the
// same sender. The packets are encrypted while the backlog is prepared,
// untimed, with fresh sequence numbers (replay protection is on for both).
func BenchmarkReceiveSRTP(b *testing.B) {
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side { return benchSRTPBacklog(b, false) }, benchSRTPBacklogRaw)
}

// BenchmarkReceiveSRTPCallerReads: BenchmarkReceiveSRTP with
// Config.CallerReads: GetPacket reads the socket (recvmmsg, 32 per call),
// decrypts and queues on the application's goroutine.
func BenchmarkReceiveSRTPCallerReads(b *testing.B) {
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side { return benchSRTPBacklog(b, true) }, benchSRTPBacklogRaw)
}

const srtpProfile = association.SRTP_AEAD_AES_128_GCM

func benchKeys() (tx, rx association.SRTPKeys) {
	fill := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	tx = association.SRTPKeys{Profile: srtpProfile, LocalKey: fill(16, 1), LocalSalt: fill(12, 2), RemoteKey: fill(16, 3), RemoteSalt: fill(12, 4)}
	rx = association.SRTPKeys{Profile: srtpProfile, LocalKey: tx.RemoteKey, LocalSalt: tx.RemoteSalt, RemoteKey: tx.LocalKey, RemoteSalt: tx.LocalSalt}
	return tx, rx
}

// srtpBacklog encrypts backlogs of fresh SRTP packets.
type srtpBacklog struct {
	ctx   *pionsrtp.Context
	plain []byte
	seq   uint16
	pkts  [][]byte
}

func newSRTPBacklog(b *testing.B) *srtpBacklog {
	k, _ := benchKeys()
	ctx, err := pionsrtp.CreateContext(k.LocalKey, k.LocalSalt, pionsrtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		b.Fatal(err)
	}
	s := &srtpBacklog{ctx: ctx, plain: make([]byte, recordLen-16), pkts: make([][]byte, backlog)}
	s.plain[0], s.plain[1] = 0x80, 111
	binary.BigEndian.PutUint32(s.plain[8:], 0x5eed)
	for i := range s.pkts {
		s.pkts[i] = make([]byte, 0, recordLen+srtp.Overhead)
	}
	return s
}

// next encrypts the next backlog.
func (s *srtpBacklog) next(b *testing.B) [][]byte {
	for i := range s.pkts {
		s.seq++
		binary.BigEndian.PutUint16(s.plain[2:], s.seq)
		p, err := s.ctx.EncryptRTP(s.pkts[i][:0], s.plain, nil)
		if err != nil {
			b.Fatal(err)
		}
		s.pkts[i] = p
	}
	return s.pkts
}

func benchSRTPBacklog(b *testing.B, callerReads bool) benchpair.Side {
	mod, err := mediaport.OpenModule(mediaport.Options{Batch: 32})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mod.Close() })
	v, _ := vmprx.Create(mod)
	if err := v.Config(vmprx.Config{Local: lo4, RTCPMux: true, CallerReads: callerReads}); err != nil {
		b.Fatal(err)
	}
	_, rk := benchKeys()
	s, err := srtp.New(rk)
	if err != nil {
		b.Fatal(err)
	}
	v.ConfigSRTP(s)
	port, _, _ := v.Ports()
	d := backlogSender(b, port)
	enc := newSRTPBacklog(b)
	ev, _ := v.Event()
	evc := ev.C()
	buf := make([]byte, 2048)
	var release func()
	sent := 0
	b.Cleanup(func() {
		if st, _ := v.Stats(); st.Overrun != 0 || st.RTP != uint64(sent) || st.SRTPAuth+st.SRTPReplay != 0 {
			b.Errorf("stats %+v for %d sent", st, sent)
		}
	})
	return benchpair.Side{
		Prepare: func() {
			pkts := enc.next(b)
			release = vmprx.HoldPorts(v)
			if _, err := d.SendBatch(pkts); err != nil {
				b.Fatal(err)
			}
			sent += backlog
		},
		Op: func() {
			release()
			for got := 0; got < backlog; {
				if _, err := v.GetPacket(buf); err != nil {
					if !errors.Is(err, vmprx.ErrNoPacket) {
						b.Fatal(err)
					}
					<-evc
					continue
				}
				got++
			}
		},
		Ops: backlog,
	}
}

func benchSRTPBacklogRaw(b *testing.B) benchpair.Side {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	d := backlogSender(b, c.LocalAddr().(*net.UDPAddr).AddrPort())
	_, rk := benchKeys()
	ctx, err := pionsrtp.CreateContext(rk.RemoteKey, rk.RemoteSalt, pionsrtp.ProtectionProfileAeadAes128Gcm,
		pionsrtp.SRTPReplayProtection(srtp.ReplayWindow))
	if err != nil {
		b.Fatal(err)
	}
	enc := newSRTPBacklog(b)
	buf := make([]byte, 2048)
	var hdr rtp.Header // reused, as the Session does: no allocation
	return benchpair.Side{
		Prepare: func() {
			if _, err := d.SendBatch(enc.next(b)); err != nil {
				b.Fatal(err)
			}
		},
		Op: func() {
			for range backlog {
				n, _, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ctx.DecryptRTP(buf[:n], buf[:n], &hdr); err != nil {
					b.Fatal(err)
				}
			}
		},
		Ops: backlog,
	}
}
