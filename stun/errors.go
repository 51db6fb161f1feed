package stun

import (
	"errors"
	"fmt"

	"github.com/mediaport/mediaport"
)

// Errors of the STUN session; match them with errors.Is. Calls on a
// destroyed session return an error matching mediaport.ErrDestroyed, on a
// nil one mediaport.ErrNilHandle.
var (
	// ErrPending is returned by Destroy called from inside a callback
	// (PJ_EPENDING): the session is destroyed when the callback returns.
	ErrPending = errors.New("stun: destroy pending until the callback returns")
	// ErrSessionDestroyed is returned by OnRxPkt, SendMsg, Respond,
	// CancelReq and RetransmitReq when a callback they invoked destroyed
	// the session (PJNATH_ESTUNDESTROYED).
	ErrSessionDestroyed = fmt.Errorf("stun: session destroyed in a callback: %w", mediaport.ErrDestroyed)
	// ErrTimeout completes a request that got no response (PJNATH_ESTUNTIMEDOUT).
	ErrTimeout = errors.New("stun: transaction timed out")
	// ErrSendPending may be returned by an OnSendMsg callback whose
	// transport queued the packet (PJ_EPENDING / PJ_EBUSY): it counts as
	// sent.
	ErrSendPending = errors.New("stun: send pending")
	// ErrInvalidMessage: a packet that is not a valid STUN message.
	ErrInvalidMessage = errors.New("stun: invalid message")
	// ErrIncomplete: a stream packet shorter than the STUN message it starts.
	ErrIncomplete = errors.New("stun: incomplete message")
	// ErrNotRequest: CancelReq or RetransmitReq on something that is not a
	// pending request of this session.
	ErrNotRequest = fmt.Errorf("stun: %w: not a pending request", mediaport.ErrState)
	// ErrIntegrity: a response failed its MESSAGE-INTEGRITY check.
	ErrIntegrity = errors.New("stun: integrity check failed")
)

// StatusError is how a request completes when the server answered with an
// error response; errors.As reaches it from the status given to
// OnRequestComplete.
type StatusError struct {
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("stun: error response %d %s", e.Code, e.Reason)
}

// Reason phrases used when an error response is created without one
// (pj_stun_get_err_reason).
var reasons = map[int]string{
	300: "Try Alternate",
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	405: "Mobility Forbidden",
	420: "Unknown Attribute",
	437: "Allocation Mismatch",
	438: "Stale Nonce",
	440: "Address Family not Supported",
	441: "Wrong Credentials",
	442: "Unsupported Transport Protocol",
	443: "Peer Address Family Mismatch",
	446: "Connection Already Exists",
	447: "Connection Timeout or Failure",
	486: "Allocation Quota Reached",
	487: "Role Conflict",
	500: "Server Error",
	508: "Insufficient Capacity",
}

// Reason returns the default reason phrase of a STUN error code.
func Reason(code int) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	return "Unknown Error"
}
