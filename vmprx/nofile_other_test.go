//go:build !unix

package vmprx_test

import "testing"

// raiseNoFile does nothing where there is no RLIMIT_NOFILE.
func raiseNoFile(*testing.B, uint64) {}
