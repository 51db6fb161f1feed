package turn

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/mediaport/mediaport/stun"
)

// ErrAlternateServer: a server redirected the allocation (300 Try
// Alternate) to an address it must not follow — of another family, not
// unicast (unspecified, multicast, broadcast, link-local), with port 0, or
// a loopback address named by a server that is not on loopback. The
// allocation fails with an error matching it.
var ErrAlternateServer = errors.New("turn: unusable ALTERNATE-SERVER")

// checkAlternate reports whether alt, named in ALTERNATE-SERVER by server,
// may be followed: a unicast address of server's family with a port.
func checkAlternate(server, alt netip.AddrPort) error {
	a := alt.Addr()
	switch {
	case !a.IsValid() || a.Is4() != server.Addr().Is4():
		return fmt.Errorf("%w: %v is not of the family of %v", ErrAlternateServer, alt, server)
	case alt.Port() == 0:
		return fmt.Errorf("%w: %v has port 0", ErrAlternateServer, alt)
	case a.IsLoopback():
		if !server.Addr().IsLoopback() {
			return fmt.Errorf("%w: loopback %v named by %v", ErrAlternateServer, alt, server)
		}
	case !a.IsGlobalUnicast(): // unspecified, multicast, broadcast, link-local
		return fmt.Errorf("%w: %v is not a unicast address", ErrAlternateServer, alt)
	}
	return nil
}

// lost reports whether a request's status means the allocation is gone:
// the server no longer knows it (437 Allocation Mismatch) or stopped
// answering.
func lost(status error) bool {
	var se *stun.StatusError
	return errors.Is(status, stun.ErrTimeout) || errors.As(status, &se) && se.Code == 437
}

func (k kind) String() string {
	switch k {
	case kindAllocate:
		return "Allocate"
	case kindRefresh:
		return "Refresh"
	case kindPermission:
		return "CreatePermission"
	case kindChannel:
		return "ChannelBind"
	case kindDeallocate:
		return "Refresh (deallocate)"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}
