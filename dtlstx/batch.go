package dtlstx

import (
	"errors"
	"fmt"
	"net"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/udp"
)

// SendPackets sends each of pkts as SendPacket would, in order, and
// returns how many were sent; on error the rest were not. In
// pass-through mode the raw DTLS datagrams, in terminated mode on
// mediaport's record path (the AEAD suites) each payload sealed in place
// as a record of its own into a pooled send buffer: either way they are
// handed to the kernel in as few sendmmsg system calls as the module's
// batch size (mediaport.Options.Batch) allows, consecutive datagrams of
// one length as one UDP segmentation offload message where the kernel
// has it (the socket layer a dispatcher's SendBatch uses), before
// SendPackets returns, without allocating in steady use. On pion's path
// (CBC suites) it is SendPacket in a loop.
//
// Its errors are SendPacket's: before Config, an error matching
// ErrState; in terminated mode before the handshake has completed (or
// after the association ended), ErrNotEstablished, with nothing sent; a
// payload too large for one record fails the call before any of the
// batch is sent; after Stop, ErrStopped; on a nil handle, ErrNilHandle.
// No packets is no error. Capacity is SendPacket's: a DTLS[tx] keeps
// nothing queued, so Status and ConfigNotify mean the same for both.
func (t *DTLSTx) SendPackets(pkts [][]byte) (int, error) {
	if err := t.endpoint().Check(); err != nil {
		return 0, err
	}
	if len(pkts) == 0 {
		return 0, nil
	}
	w := t.writer.Load()
	if w == nil {
		return t.sendRawBatch(pkts)
	}
	if !w.w.Ready() {
		return 0, ErrNotEstablished
	}
	bw, ok := w.w.(link.BatchWriter)
	if !ok {
		for i, p := range pkts {
			if err := t.SendPacket(p); err != nil {
				return i, err
			}
		}
		return len(pkts), nil
	}
	n, err := bw.WriteBatch(pkts)
	var b uint64
	for _, p := range pkts[:n] {
		b += uint64(len(p))
	}
	t.packets.Add(uint64(n))
	t.bytes.Add(b)
	if err != nil {
		if cerr := t.ep.Check(); cerr != nil {
			return n, cerr
		}
		if errors.Is(err, ErrNotEstablished) || !w.w.Ready() {
			return n, ErrNotEstablished
		}
		t.errs.Add(1)
		return n, err
	}
	return n, nil
}

// sendBatch returns the route's Batch, made on first use.
func (t *DTLSTx) sendBatch(r *route) *udp.Batch {
	if b := r.batch.Load(); b != nil {
		return b
	}
	r.batch.CompareAndSwap(nil, udp.NewBatch(r.conn, r.dst, t.ep.Module().Limits.Batch))
	return r.batch.Load()
}

// sendRawBatch sends datagrams, as they go on the wire, to the route's
// destination.
func (t *DTLSTx) sendRawBatch(pkts [][]byte) (int, error) {
	r := t.rt.Load()
	if r == nil {
		return 0, errNotConfigured
	}
	if !r.dst.IsValid() {
		return 0, errNoDestination
	}
	n, err := t.sendBatch(r).Send(pkts)
	var b uint64
	for _, p := range pkts[:n] {
		b += uint64(len(p))
	}
	t.packets.Add(uint64(n))
	t.bytes.Add(b)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, net.ErrClosed) {
		if err := t.ep.Check(); err != nil {
			return n, err
		}
		if t.rt.Load() != r { // reconfigured meanwhile: try the new route once
			k, err := t.sendRawBatch(pkts[n:])
			return n + k, err
		}
		t.errs.Add(1)
		return n, fmt.Errorf("dtlstx: %w: the source socket was closed (its VMP[rx] stopped)", mediaport.ErrState)
	}
	t.errs.Add(1)
	return n, fmt.Errorf("dtlstx: send to %v: %w", r.dst, err)
}

// SendRawBatch sends datagrams through the route, bypassing the writer
// (link.TxBatcher).
func (c control) SendRawBatch(pkts [][]byte) (int, error) {
	if c.t.ep.State() == core.Destroyed {
		return 0, mediaport.ErrDestroyed
	}
	return c.t.sendRawBatch(pkts)
}

var _ link.TxBatcher = control{}
