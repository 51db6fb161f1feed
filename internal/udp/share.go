package udp

import "net/netip"

// A socket may be shared: its owner (a VMP[rx]) reads it and closes it,
// while other endpoints send from it. A sharer never changes the socket's
// options, which are the owner's and every other sharer's too: what it
// wants of one datagram, such as a TOS byte, it sends with that datagram
// as a control message (TOSControl, WriteMsgTo, Batch.SetControl). It
// learns that the owner closed the socket through OnClose.

type closeHook struct{ f func() }

// OnClose arranges for f to run when Close is called, before the socket
// closes, so that a sharer can stop before its sends would fail. It
// returns a function that cancels the arrangement, or ok false when the
// socket is closed already (f will not run). f runs on the goroutine that
// calls Close and must not call Close or the cancel function.
func (u *Conn) OnClose(f func()) (cancel func(), ok bool) {
	h := &closeHook{f: f}
	u.hookMu.Lock()
	defer u.hookMu.Unlock()
	if u.closed {
		return nil, false
	}
	if u.hooks == nil {
		u.hooks = map[*closeHook]struct{}{}
	}
	u.hooks[h] = struct{}{}
	return func() {
		u.hookMu.Lock()
		defer u.hookMu.Unlock()
		delete(u.hooks, h)
	}, true
}

// runCloseHooks marks u closed and runs the OnClose functions once, with
// no lock held.
func (u *Conn) runCloseHooks() {
	u.hookMu.Lock()
	u.closed = true
	hooks := u.hooks
	u.hooks = nil
	u.hookMu.Unlock()
	for h := range hooks {
		h.f()
	}
}

// TOSControl returns a control message that gives the one datagram sent
// with it the IPv4 TOS byte or IPv6 traffic class tos (IP_TOS or
// IPV6_TCLASS), for WriteMsgTo and Batch.SetControl, leaving the socket's
// own setting alone. It returns nil where the platform has no such
// control message (everywhere but Linux): datagrams then carry the
// socket's TOS. tos must be in 0..255.
func (u *Conn) TOSControl(tos int) []byte { return tosControl(u.is6, tos) }

// WriteMsgTo sends one datagram to dst with the control message oob
// (nil: none), without allocating.
func (u *Conn) WriteMsgTo(p, oob []byte, dst netip.AddrPort) (int, error) {
	if oob == nil {
		return u.c.WriteToUDPAddrPort(p, dst)
	}
	n, _, err := u.c.WriteMsgUDPAddrPort(p, oob, dst)
	return n, err
}
