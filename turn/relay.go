package turn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/rxloop"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/stun"
)

// SendTo sends data to peer through the relay: ChannelData when a channel
// is bound to peer (without allocating), a Send indication otherwise (the
// peer needs a permission).
func (a *Allocation) SendTo(peer netip.AddrPort, data []byte) error {
	if err := a.endpoint().Check(); err != nil {
		return err
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	a.mu.Lock()
	if err := a.readyLocked(); err != nil {
		a.mu.Unlock()
		return err
	}
	g := a.channels[peer]
	server := a.server
	if g != nil && g.ok {
		ch := g.channel
		a.mu.Unlock()
		bp := a.sendBuf.Get().(*[]byte)
		b, err := AppendChannelData((*bp)[:0], ch, data, false)
		if err == nil {
			_, err = a.conn.WriteTo(b, server)
			a.countSent(len(data), err)
		}
		*bp = b[:0]
		a.sendBuf.Put(bp)
		return err
	}
	a.mu.Unlock()
	td, err := a.sess.CreateInd(pionstun.MethodSend)
	if err != nil {
		return err
	}
	td.AddXORAddress(pionstun.AttrXORPeerAddress, peer)
	td.Add(pionstun.AttrData, data)
	err = a.sess.SendMsg(nil, false, false, server, td)
	a.countSent(len(data), err)
	return err
}

func (a *Allocation) countSent(n int, err error) {
	if err != nil {
		a.sendErrs.Add(1)
		return
	}
	a.sentPackets.Add(1)
	a.sentBytes.Add(uint64(n))
}

// receive reads what the server sends: ChannelData goes to the queue,
// STUN to the session (responses, Data indications).
func (a *Allocation) receive() {
	defer a.wg.Done()
	rd := udp.NewReader(a.conn, a.mod.Limits.Batch, 0)
	pool := a.mod.Packets
	slots := make([]*pktq.Packet, len(rd.Msgs))
	for i := range slots {
		slots[i] = pool.Get()
		rd.Msgs[i].Buf = slots[i].Buf
	}
	defer func() {
		for _, p := range slots {
			pool.Put(p)
		}
	}()
	var bo rxloop.Backoff
	for {
		n, err := rd.Read()
		if err != nil {
			switch {
			case errors.Is(err, net.ErrClosed):
				return
			case udp.Transient(err): // an ICMP error, gone once read
				continue
			}
			// A persistent error: back off on the module's clock, and
			// after rxloop's limit fail the allocation with it.
			d, stop := bo.Fail()
			if stop {
				a.mu.Lock()
				a.failLocked(fmt.Errorf("turn: receive: %w", err))
				a.mu.Unlock()
				return
			}
			if !clock.Sleep(a.clk.AfterFunc, d, a.quit) {
				return
			}
			continue
		}
		bo.OK()
		got := false
		for i := 0; i < n; i++ {
			m := &rd.Msgs[i]
			delivered, queued := a.rxDatagram(m.Buf[:m.N], m.Src, m.Trunc, slots[i])
			got = got || delivered
			if queued { // the slot is the reader's now
				slots[i] = pool.Get()
				m.Buf = slots[i].Buf
			}
		}
		if got {
			a.ep.Signal()
		}
	}
}

// rxDatagram handles one datagram b from src (trunc: longer than the
// buffer), which lies at the start of p's buffer: ChannelData on a bound
// channel is queued in p itself (queued), STUN goes to the session,
// anything else is counted and dropped. delivered reports peer data for
// the queue, queued or lost to a full queue.
func (a *Allocation) rxDatagram(b []byte, src netip.AddrPort, trunc bool, p *pktq.Packet) (delivered, queued bool) {
	switch {
	case src != a.serverAddr():
		a.foreign.Add(1)
		return false, false
	case trunc:
		a.truncated.Add(1)
		return false, false
	case len(b) == 0:
		a.malformed.Add(1)
		return false, false
	}
	switch {
	case b[0]&0xC0 == 0x40: // ChannelData
		ch, data, _, err := ParseChannelData(b, false)
		if err != nil {
			a.malformed.Add(1)
			return false, false
		}
		peer, ok := a.channelPeer(ch)
		if !ok {
			a.unbound.Add(1)
			return false, false
		}
		p.N = copy(p.Buf, data) // move the payload to the start
		p.Src = peer
		if !a.q.Push(p) {
			return true, false
		}
		a.packets.Add(1)
		a.bytes.Add(uint64(len(data)))
		return true, true
	case b[0] < 4:
		a.sess.OnRxPkt(b, stun.IsDatagram, nil, src)
	default:
		a.malformed.Add(1)
	}
	return false, false
}

func (a *Allocation) serverAddr() netip.AddrPort {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.server
}

// onIndication queues the data of a Data indication.
func (a *Allocation) onIndication(_ *stun.Session, _ []byte, m *pionstun.Message, _ any, _ netip.AddrPort) error {
	if m.Type.Method != pionstun.MethodData {
		return nil
	}
	peer, ok := stun.XORAddress(m, pionstun.AttrXORPeerAddress)
	data, err := m.Get(pionstun.AttrData)
	if !ok || err != nil {
		a.malformed.Add(1)
		return nil
	}
	p := a.mod.Packets.Get()
	if len(data) > len(p.Buf) {
		a.mod.Packets.Put(p)
		a.truncated.Add(1)
		return nil
	}
	p.N, p.Src = copy(p.Buf, data), peer
	if !a.q.Push(p) {
		a.mod.Packets.Put(p)
	} else {
		a.packets.Add(1)
		a.bytes.Add(uint64(len(data)))
	}
	a.ep.Signal()
	return nil
}

// GetPacket copies the oldest queued peer data into buf and returns its
// length and the peer it came from. A short buf returns an error matching
// ErrBufferTooSmall and keeps the packet; an empty queue, ErrNoPacket.
func (a *Allocation) GetPacket(buf []byte) (int, netip.AddrPort, error) {
	if err := a.endpoint().CheckAlive(); err != nil {
		return 0, netip.AddrPort{}, err
	}
	a.mu.Lock()
	q := a.q
	a.mu.Unlock()
	if q == nil {
		return 0, netip.AddrPort{}, ErrNoPacket
	}
	pp, ok, err := q.Pop(buf)
	if !ok {
		return 0, netip.AddrPort{}, ErrNoPacket
	}
	if err != nil {
		return pp.N, pp.Src, fmt.Errorf("turn: %w: packet of %d bytes", err, pp.N)
	}
	if pp.More {
		a.ep.Signal()
	}
	return pp.N, pp.Src, nil
}
