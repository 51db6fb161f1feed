package association

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mediaport/mediaport"
)

var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// NoWait returns a context that is already done: RIOT's timeout 0. Recv
// returns what is there or mediaport.ErrNoPacket (-EAGAIN); Send sends on
// an established session or returns ErrNotEstablished (-ENOTCONN).
func NoWait() context.Context { return noWait }

var errSockDeadline = fmt.Errorf("%w: %w", ErrTimedOut, context.DeadlineExceeded)

// ctxErr is what a wait that ctx ended returns.
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errSockDeadline
	}
	return context.Cause(ctx)
}

// AuxRx is what RecvAux reports beside the data (sock_dtls_aux_rx_t).
// Local is the port the datagram came in on (SOCK_AUX_GET_LOCAL: the
// VMP[rx]'s bound address; an unspecified one stays unspecified). Meta
// is what the kernel reported with the datagram that carried the record
// (SOCK_AUX_GET_TIMESTAMP, SOCK_AUX_GET_TTL, and the TOS byte) when the
// VMP[rx] asks for it (vmprx.Config.RecvMeta) and the association runs
// on mediaport's record path (the AEAD suites); zero otherwise: pion's
// path decrypts from a queue, no longer tied to a datagram. RIOT's RSSI
// has no UDP equivalent.
type AuxRx struct {
	Local netip.AddrPort
	Meta  mediaport.RecvMeta
}

// AuxTx is what SendAux reports (sock_dtls_aux_tx_t): Local, the port the
// record left from (a Sock sends from its one port, so RIOT's
// SOCK_AUX_SET_LOCAL has nothing to choose), and Timestamp, the module
// clock's time once the datagram was handed to the kernel
// (SOCK_AUX_GET_TIMESTAMP).
type AuxTx struct {
	Local     netip.AddrPort
	Timestamp time.Time
}

// Recv is RecvAux without aux (sock_dtls_recv).
func (s *Sock) Recv(ctx context.Context, buf []byte) (int, SockSession, error) {
	return s.RecvAux(ctx, buf, nil)
}

// RecvAux waits until ctx is done for the next thing to report
// (sock_dtls_recv_aux): a session whose handshake completed — 0, the
// session and ErrHandshakeDone (-SOCK_DTLS_HANDSHAKE), reported before
// any of its data —, a client session whose handshake failed or a
// session that ended with a fatal alert — 0, the session and the cause
// (ErrFingerprint, an *AlertError, ErrHandshakeTimeout, …) —, or
// decrypted application data: its length in buf and its session. A buf
// shorter than the data returns the data's length and an error matching
// mediaport.ErrBufferTooSmall (-ENOBUFS), and the data stays for the
// next call. See NoWait for the timeout; after Close, ErrClosed; once the
// DTLS[rx] stopped, mediaport.ErrStopped.
func (s *Sock) RecvAux(ctx context.Context, buf []byte, aux *AuxRx) (int, SockSession, error) {
	if !s.valid() {
		return 0, SockSession{}, mediaport.ErrNilHandle
	}
	wait := ctx.Err() == nil
	if aux != nil {
		aux.Local = s.local
	}
	for {
		if s.l != nil {
			s.drain() // the Listener's news before the data behind it
		}
		s.mu.Lock()
		if len(s.notices) > 0 {
			n := s.notices[0]
			s.notices[0] = sockNotice{}
			s.notices = s.notices[1:]
			s.mu.Unlock()
			if n.err != nil {
				return 0, SockSession{n.ep}, n.err
			}
			return 0, SockSession{n.ep}, ErrHandshakeDone
		}
		closed, changed := s.closed, s.changed
		s.mu.Unlock()
		if closed {
			return 0, SockSession{}, ErrClosed
		}
		var n int
		var src netip.AddrPort
		var err error
		if aux != nil {
			n, src, aux.Meta, err = s.rx.GetPacketMeta(buf)
		} else {
			n, src, err = s.rx.GetPacket(buf)
		}
		if err == nil || errors.Is(err, mediaport.ErrBufferTooSmall) {
			return n, SockSession{src}, err
		}
		if !errors.Is(err, mediaport.ErrNoPacket) {
			return 0, SockSession{}, err
		}
		if !wait {
			return 0, SockSession{}, mediaport.ErrNoPacket
		}
		select {
		case <-s.rxEv.C():
		case <-changed:
		case <-ctx.Done():
			return 0, SockSession{}, ctxErr(ctx)
		}
	}
}

// Send is SendAux without aux (sock_dtls_send).
func (s *Sock) Send(ctx context.Context, sess SockSession, p []byte) (int, error) {
	return s.SendAux(ctx, sess, p, nil)
}

// SendAux encrypts p into one record to sess's peer and returns len(p)
// (sock_dtls_send_aux). With no established session it waits until ctx
// is done for one: a client starts the handshake (as SessionInit) if
// there is none, a server waits for the peer's. Its errors: with NoWait,
// ErrNotEstablished (-ENOTCONN); at the deadline, ErrTimedOut
// (-ETIMEDOUT); the cause, when the handshake a client waited for failed;
// ErrClosed; mediaport.ErrInvalidArgument for a session with no
// endpoint (-EINVAL).
func (s *Sock) SendAux(ctx context.Context, sess SockSession, p []byte, aux *AuxTx) (int, error) {
	return s.send(ctx, sess, p, nil, aux)
}

// send is SendAux of p, or with snips not nil SendVAux of snips.
func (s *Sock) send(ctx context.Context, sess SockSession, p []byte, snips [][]byte, aux *AuxTx) (int, error) {
	if !s.valid() {
		return 0, mediaport.ErrNilHandle
	}
	ep := sess.ep
	if !ep.IsValid() || ep.Port() == 0 || ep.Addr().IsUnspecified() {
		return 0, fmt.Errorf("association: %w: remote endpoint %v", mediaport.ErrInvalidArgument, ep)
	}
	wait := ctx.Err() == nil
	var cs *clientSession // the client session waited for
	for {
		var a *Association
		s.mu.Lock()
		closed, changed := s.closed, s.changed
		if s.role == Client && !closed {
			if cs != nil && cs.gone.Load() {
				err := cs.err
				s.mu.Unlock()
				if err == nil {
					err = ErrNotEstablished // destroyed, or closed by the peer
				}
				return 0, err
			}
			if cs == nil {
				cs = s.sessions[ep]
			}
			if cs != nil && cs.up.Load() {
				a = cs.a
			}
		}
		s.mu.Unlock()
		if closed {
			return 0, ErrClosed
		}
		if s.role == Server {
			if ls := s.l.Session(ep); ls != nil {
				a = ls.a
			}
		}
		if a != nil {
			n := len(p)
			var err error
			if snips != nil {
				n = 0
				for _, x := range snips {
					n += len(x)
				}
				err = a.writeV(snips)
			} else {
				err = a.write(p)
			}
			if err != nil {
				return 0, err
			}
			if aux != nil {
				aux.Local, aux.Timestamp = s.local, s.mod.Clock.Now()
			}
			return n, nil
		}
		if !wait {
			return 0, ErrNotEstablished
		}
		if s.role == Client && cs == nil {
			var err error
			if cs, err = s.clientSession(ep); err != nil && !errors.Is(err, ErrSessionExists) {
				return 0, err
			}
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctxErr(ctx)
		}
	}
}

// SendV is SendVAux without aux (sock_dtls_sendv).
func (s *Sock) SendV(ctx context.Context, sess SockSession, snips [][]byte) (int, error) {
	return s.SendVAux(ctx, sess, snips, nil)
}

// SendVAux sends snips, in order, as one record (sock_dtls_sendv_aux):
// SendAux of their concatenation, whose length it returns. On
// mediaport's record path (the AEAD suites) the snips are gathered
// straight into the record's send buffer and sealed there — the one copy
// sealing in place needs anyway —; on pion's path (CBC suites) several
// are gathered once into a pooled buffer, because pion/dtls encrypts
// from one contiguous slice. Neither allocates. Nil or empty snips add
// nothing; no snips at all send an empty record.
func (s *Sock) SendVAux(ctx context.Context, sess SockSession, snips [][]byte, aux *AuxTx) (int, error) {
	if len(snips) == 1 {
		return s.SendAux(ctx, sess, snips[0], aux)
	}
	if snips == nil {
		snips = [][]byte{}
	}
	return s.send(ctx, sess, nil, snips, aux)
}
