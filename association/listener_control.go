package association

import (
	"fmt"
	"net/netip"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/credpool"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/udp"
)

// sessionControl is a Listener's session as its association sees it: the
// DTLS[rx] and DTLS[tx] of one peer (link.RxControl, link.TxControl) over
// the Listener's pair. Records reach the association from the Listener,
// decrypted data goes to the Listener's DTLS[rx] with the peer as source,
// and the association's datagrams go to the peer through the Listener's
// DTLS[tx].
type sessionControl struct{ s *Session }

var (
	_ link.RxControl = sessionControl{}
	_ link.TxControl = sessionControl{}
)

func (c sessionControl) Check() error {
	if c.s.gone.Load() {
		return fmt.Errorf("association: %w: session ended", mediaport.ErrState)
	}
	return nil
}

// The RxControl side.

func (c sessionControl) SetRecordSink(link.Sink) error { return nil } // the Listener delivers
func (c sessionControl) PushData(p []byte, src netip.AddrPort, meta udp.Meta) bool {
	return c.s.l.rxc.PushData(p, src, meta)
}
func (c sessionControl) HandshakeDone()       { c.s.l.handshakeDone(c.s) }
func (c sessionControl) Fail(err error)       { c.s.l.ended(c.s, err) }
func (c sessionControl) SetOnStop(func())     {}
func (c sessionControl) Module() *core.Module { return c.s.l.mod }
func (c sessionControl) Sink() link.Sink      { return nil }

// The TxControl side.

func (c sessionControl) SetWriter(link.Writer) error { return nil } // Session.Send writes
func (c sessionControl) SendRaw(p []byte) error {
	if c.s.cookie.Load() == nil {
		if ck, ok := helloVerifyCookie(p); ok {
			ck = append([]byte(nil), ck...)
			c.s.cookie.Store(&ck)
		}
	}
	return c.s.l.txc.SendRawTo(p, c.s.peer)
}
func (c sessionControl) SendRawTo(p []byte, dst netip.AddrPort) error {
	return c.s.l.txc.SendRawTo(p, dst)
}
func (c sessionControl) Destination() (netip.AddrPort, error) { return c.s.peer, nil }
func (c sessionControl) SetDestination(dst netip.AddrPort) error {
	if dst != c.s.peer {
		return fmt.Errorf("association: %w: a session's peer is fixed", mediaport.ErrState)
	}
	return nil
}
func (c sessionControl) LocalAddr() (netip.AddrPort, error) { return c.s.l.txc.LocalAddr() }
func (c sessionControl) CapacityChanged()                   {}

// credpoolMatching returns the PSK and ECDSA credentials of tags.
func credpoolMatching(mod *core.Module, tags []mediaport.CredTag) []mediaport.Credential {
	return append(credpool.Matching(mod, tags, mediaport.CredPSK), credpool.Matching(mod, tags, mediaport.CredECDSA)...)
}
