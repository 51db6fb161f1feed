package turn

import (
	"context"
	"net/netip"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/stun"
)

// grant is a permission or channel binding and its refresh timer.
type grant struct {
	channel uint16
	ok      bool // the server confirmed it
	timer   core.Timer
}

func (a *Allocation) dropGrantLocked(k kind, peer netip.AddrPort) {
	if k == kindPermission {
		if g := a.perms[peer.Addr()]; g != nil && g.timer != nil {
			g.timer.Stop()
		}
		delete(a.perms, peer.Addr())
		return
	}
	if g := a.channels[peer]; g != nil {
		if g.timer != nil {
			g.timer.Stop()
		}
		delete(a.byChannel, g.channel)
	}
	delete(a.channels, peer)
}

// regrant refreshes a permission or channel binding.
func (a *Allocation) regrant(k kind, peer netip.AddrPort) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != Allocated || a.stopping {
		return
	}
	var err error
	if k == kindPermission {
		_, err = a.sendPermissionLocked(peer.Addr())
	} else if g := a.channels[peer]; g != nil {
		_, err = a.sendChannelBindLocked(peer, g.channel)
	}
	if err != nil {
		a.mod.Log.Debug("turn: refresh of a grant failed", "peer", peer, "err", err)
	}
}

// CreatePermission installs a permission for peer and waits for the
// server's answer (a *stun.StatusError, say 403, when refused). It is
// refreshed before it expires until Stop.
func (a *Allocation) CreatePermission(ctx context.Context, peer netip.Addr) error {
	if err := a.endpoint().Check(); err != nil {
		return err
	}
	a.mu.Lock()
	if err := a.readyLocked(); err != nil {
		a.mu.Unlock()
		return err
	}
	if a.perms[peer.Unmap()] == nil {
		a.perms[peer.Unmap()] = &grant{}
	}
	wait, err := a.sendPermissionLocked(peer.Unmap())
	a.mu.Unlock()
	if err != nil {
		return err
	}
	return a.await(ctx, wait)
}

func (a *Allocation) sendPermissionLocked(peer netip.Addr) (chan error, error) {
	td, err := a.sess.CreateReq(pionstun.MethodCreatePermission, stun.MagicCookie, nil)
	if err != nil {
		return nil, err
	}
	td.AddXORAddress(pionstun.AttrXORPeerAddress, netip.AddrPortFrom(peer, 0))
	w := make(chan error, 1)
	a.waiters[td] = w
	if err := a.sess.SendMsg(token{kind: kindPermission, peer: netip.AddrPortFrom(peer, 0)}, false, true, a.server, td); err != nil {
		delete(a.waiters, td)
		return nil, err
	}
	return w, nil
}

// ChannelBind binds a channel to peer (which also installs a permission),
// waits for the server's answer and returns the channel number. From then
// on SendTo(peer) uses ChannelData. It is refreshed before it expires.
func (a *Allocation) ChannelBind(ctx context.Context, peer netip.AddrPort) (uint16, error) {
	if err := a.endpoint().Check(); err != nil {
		return 0, err
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	a.mu.Lock()
	if err := a.readyLocked(); err != nil {
		a.mu.Unlock()
		return 0, err
	}
	g := a.channels[peer]
	if g == nil {
		ch, ok := a.freeChannelLocked()
		if !ok {
			a.mu.Unlock()
			return 0, ErrNoChannels
		}
		g = &grant{channel: ch}
		a.channels[peer] = g
		a.byChannel[ch] = peer
	}
	ch := g.channel
	wait, err := a.sendChannelBindLocked(peer, ch)
	a.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := a.await(ctx, wait); err != nil {
		return 0, err
	}
	return ch, nil
}

func (a *Allocation) freeChannelLocked() (uint16, bool) {
	for i := 0; i <= MaxChannel-MinChannel; i++ {
		ch := a.nextChannel
		a.nextChannel++
		if a.nextChannel > MaxChannel {
			a.nextChannel = MinChannel
		}
		if _, used := a.byChannel[ch]; !used {
			return ch, true
		}
	}
	return 0, false
}

func (a *Allocation) sendChannelBindLocked(peer netip.AddrPort, ch uint16) (chan error, error) {
	td, err := a.sess.CreateReq(pionstun.MethodChannelBind, stun.MagicCookie, nil)
	if err != nil {
		return nil, err
	}
	td.Add(pionstun.AttrChannelNumber, []byte{byte(ch >> 8), byte(ch), 0, 0})
	td.AddXORAddress(pionstun.AttrXORPeerAddress, peer)
	w := make(chan error, 1)
	a.waiters[td] = w
	if err := a.sess.SendMsg(token{kind: kindChannel, peer: peer}, false, true, a.server, td); err != nil {
		delete(a.waiters, td)
		return nil, err
	}
	return w, nil
}

func (a *Allocation) await(ctx context.Context, w chan error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case err := <-w:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *Allocation) channelPeer(ch uint16) (netip.AddrPort, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.byChannel[ch]
	return p, ok
}
