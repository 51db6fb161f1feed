package vmprx

import (
	"encoding/binary"
	"net/netip"

	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
)

// Routing: what happens to each datagram a port read, whoever read it.

// batch is what a port's reader remembers across one batch (and, for the
// SSRC cache, across batches).
type batch struct {
	signal   bool      // something for the VMP[rx]'s own status
	flush    link.Sink // a DTLS[rx] that was handed packets
	lastSSRC uint32
	haveSSRC bool
}

// route hands on the datagrams [from, n) that r read on pt.
func (v *VMPRx) route(pt *port, r *reader, from, n int) {
	if n > 0 {
		pt.noteDrops(r.rd.Msgs[n-1].Drops)
	}
	if r.slots == nil {
		v.routeCoalesced(pt, r, n)
		return
	}
	for i := from; i < n; i++ {
		m := &r.rd.Msgs[i]
		p := r.slots[i]
		p.N, p.Src, p.Meta = m.N, m.Src, m.Meta
		if v.handle(pt.idx, p, m.Trunc, &pt.b) {
			r.slots[i] = v.mod.Packets.Get()
			m.Buf = r.slots[i].Buf
		}
	}
}

// routeCoalesced is route for a GRO port: it copies each datagram of each
// message (several when the kernel coalesced them) into a pooled packet.
func (v *VMPRx) routeCoalesced(pt *port, r *reader, n int) {
	for i := 0; i < n; i++ {
		m := &r.rd.Msgs[i]
		if m.Trunc { // longer than GROBufSize: cannot happen with UDP
			v.count[cTruncated].Add(1)
			continue
		}
		d := m.Buf[:m.N]
		seg := m.Seg
		if seg <= 0 || seg >= len(d) {
			seg = len(d)
		} else {
			v.count[cCoalesced].Add(uint64((len(d) + seg - 1) / seg))
		}
		for first := true; first || len(d) > 0; first = false {
			k := min(seg, len(d))
			v.routeCopy(pt, r, d[:k], m.Src, &m.Meta)
			d = d[k:]
		}
	}
}

// routeCopy routes a copy of datagram d from src, with the metadata of
// the message it came in (the kernel reports it for the first datagram
// of a coalesced run; the others arrived with it).
func (v *VMPRx) routeCopy(pt *port, r *reader, d []byte, src netip.AddrPort, meta *udp.Meta) {
	p := r.spare
	if p == nil {
		p = v.mod.Packets.Get()
	}
	if len(d) > len(p.Buf) {
		r.spare = p
		v.count[cTruncated].Add(1)
		return
	}
	p.N, p.Src, p.Meta = copy(p.Buf, d), src, *meta
	if v.handle(pt.idx, p, false, &pt.b) {
		p = nil // handed on
	}
	r.spare = p
}

// handle routes one datagram, p.Bytes(), that arrived on port (0 RTP,
// 1 RTCP). It returns true when p was handed on (queued or delivered), in
// which case the caller no longer owns it.
func (v *VMPRx) handle(port int, p *pktq.Packet, trunc bool, b *batch) bool {
	if trunc {
		v.count[cTruncated].Add(1)
		return false
	}
	data := p.Bytes()
	switch cls := Classify(data); cls {
	case ClassRTP, ClassRTCP:
		if !v.cfg.RTCPMux && (port == 0) != (cls == ClassRTP) {
			v.count[cMisdirected].Add(1)
			return false
		}
		if ref := v.srtp.Load(); ref != nil {
			s := ref.session(p.Src)
			if s == nil {
				v.count[cSRTPUnkeyed].Add(1)
				return false
			}
			if !v.unprotect(s, p, cls) {
				return false
			}
			data = p.Bytes()
		}
		if !valid(cls, data) { // after SRTP's decryption: see valid.go
			v.count[cMalformed].Add(1)
			return false
		}
		if cls == ClassRTP {
			if ssrc := binary.BigEndian.Uint32(data[8:12]); !b.haveSSRC || ssrc != b.lastSSRC {
				b.lastSSRC, b.haveSSRC = ssrc, true
				if v.noteSSRC(ssrc) {
					b.signal = true
				}
			}
		}
		p.Kind = uint8(cls) | uint8(port)<<7
		b.signal = true
		var taken bool
		if cls == ClassRTCP {
			taken = v.q.PushReserved(p) // its own room: see Config.RTCPQueueLen
		} else {
			taken = v.q.Push(p)
		}
		if !taken {
			return false // counted by the queue (Overrun)
		}
		v.count[cRTP+int(cls-ClassRTP)].Add(1)
		return true
	case ClassDTLS:
		v.count[cDTLS].Add(1)
		ref := v.dtlsRef(port)
		if ref == nil {
			v.count[cDTLSUnrouted].Add(1)
			return false
		}
		if !v.dtlsPermitted(p.Src) {
			v.count[cDTLSUnchecked].Add(1)
			return false
		}
		p.Kind = uint8(cls)
		b.flush = ref.s
		if !ref.s.Deliver(p) {
			v.count[cDTLSRefused].Add(1)
			return false
		}
		return true
	case ClassSTUN:
		v.count[cSTUN].Add(1)
		h := v.stun.Load()
		if h == nil {
			v.count[cSTUNUnrouted].Add(1)
			return false
		}
		(*h)(data, p.Src, port == 1)
	case ClassZRTP:
		v.count[cZRTP].Add(1)
	case ClassTURN:
		v.count[cTURN].Add(1)
	case ClassShort:
		v.count[cShort].Add(1)
	default:
		v.count[cUnknown].Add(1)
	}
	return false
}

// dtlsRef returns the DTLS[rx] that takes the DTLS arriving on port, or
// nil.
func (v *VMPRx) dtlsRef(port int) *sinkRef {
	ref := v.dtls[port].Load()
	if ref == nil && v.cfg.RTCPMux {
		ref = v.dtls[1].Load() // set for "the RTCP port" before Config chose rtcp-mux
	}
	return ref
}

// endBatch signals whoever received something during the batch.
func (v *VMPRx) endBatch(b *batch) {
	if b.signal {
		v.ep.Signal()
	}
	if b.flush != nil {
		b.flush.Flush()
	}
	b.signal, b.flush = false, nil
}

// noteSSRC records an SSRC and queues a NewSSRC report the first time; it
// reports whether it queued one.
func (v *VMPRx) noteSSRC(ssrc uint32) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.known[ssrc]; ok {
		return false
	}
	if len(v.known) >= maxSSRCs || len(v.pending) >= maxPending {
		v.count[cSSRCOverflow].Add(1)
		return false
	}
	if v.known == nil {
		v.known = make(map[uint32]struct{})
	}
	v.known[ssrc] = struct{}{}
	v.pending = append(v.pending, ssrc)
	return true
}

// forSelf reports whether datagram d, read into a reading DTLS[rx]'s own
// buffer, is a DTLS record for that DTLS[rx] (self) rather than something
// to route.
func (v *VMPRx) forSelf(port int, d []byte, trunc bool, self link.Sink) bool {
	if trunc || self == nil || Classify(d) != ClassDTLS {
		return false
	}
	ref := v.dtlsRef(port)
	return ref != nil && ref.s == self
}

// emptySink reports whether nothing is queued in s. Called with the port's
// mutex held, so nothing from this port can reach s meanwhile.
func emptySink(s link.Sink) bool {
	f, ok := s.(link.Fed)
	return ok && f.Empty()
}
