package mediaport

import "time"

// RecvMeta is what the kernel reported with a received datagram
// (RIOT's sock_dtls_aux_rx_t: SOCK_AUX_GET_TIMESTAMP, SOCK_AUX_GET_TTL,
// and the TOS byte), for a port that asks for it (vmprx.Config.RecvMeta;
// Linux only). Its zero value means nothing was reported: Time is zero
// and Has is empty.
type RecvMeta struct {
	// Time is the kernel's receive time of the datagram (SO_TIMESTAMPNS,
	// the system's real-time clock, not the module's Clock); zero when
	// not reported.
	Time time.Time
	// TTL is the IPv4 TTL or the IPv6 hop limit it arrived with; valid
	// when Has&RecvTTL is set.
	TTL uint8
	// TOS is its IPv4 TOS byte or IPv6 traffic class (DSCP and ECN);
	// valid when Has&RecvTOS is set.
	TOS uint8
	// Has says which of TTL and TOS were reported.
	Has RecvFlags
}

// RecvFlags are the bits of RecvMeta.Has.
type RecvFlags uint8

// The bits of RecvFlags.
const (
	RecvTTL RecvFlags = 1 << iota // RecvMeta.TTL was reported
	RecvTOS                       // RecvMeta.TOS was reported
)
