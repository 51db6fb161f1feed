package turn

import (
	"fmt"

	"github.com/mediaport/mediaport"
)

// ErrLibniceValue: a number that is none of libnice's enumerators.
var ErrLibniceValue = fmt.Errorf("turn: %w: not a libnice enumerator", mediaport.ErrInvalidArgument)

// The numbers of libnice's StunUsageTurnCompatibility (stun/usages/turn.h,
// libnice 0.1.21): the C enum counts from DRAFT9, mediaport's constants
// from RFC5766 so that the zero value is the standard.
//
//	libnice                                 C value   mediaport
//	STUN_USAGE_TURN_COMPATIBILITY_DRAFT9    0         DRAFT9  (1)
//	STUN_USAGE_TURN_COMPATIBILITY_GOOGLE    1         GOOGLE  (2)
//	STUN_USAGE_TURN_COMPATIBILITY_MSN       2         MSN     (3)
//	STUN_USAGE_TURN_COMPATIBILITY_OC2007    3         OC2007  (4)
//	STUN_USAGE_TURN_COMPATIBILITY_RFC5766   4         RFC5766 (0)
var libniceCompat = [...]Compatibility{DRAFT9, GOOGLE, MSN, OC2007, RFC5766}

// CompatibilityFromLibnice returns the dialect that libnice numbers n
// (a StunUsageTurnCompatibility value read from C code, a configuration
// file or a wire protocol); ErrLibniceValue for any other number.
func CompatibilityFromLibnice(n int) (Compatibility, error) {
	if n < 0 || n >= len(libniceCompat) {
		return 0, fmt.Errorf("%w: StunUsageTurnCompatibility %d", ErrLibniceValue, n)
	}
	return libniceCompat[n], nil
}

// Libnice returns the number libnice gives the dialect
// (StunUsageTurnCompatibility), -1 for an invalid Compatibility.
func (c Compatibility) Libnice() int {
	for n, v := range libniceCompat {
		if v == c {
			return n
		}
	}
	return -1
}

// SetLibniceLifetime sets r's lifetime as libnice's int32 lifetime
// argument means it: -1 (any negative) sends no LIFETIME, 0 deletes the
// allocation (Delete), N asks for N seconds.
func (r *Request) SetLibniceLifetime(lifetime int32) {
	r.Lifetime, r.Delete = lifetime, lifetime == 0
	if lifetime < 0 {
		r.Lifetime = 0
	}
}
