//go:build unix

package vmprx_test

import (
	"syscall"
	"testing"
)

// raiseNoFile raises the soft limit of open files to n (up to the hard
// limit), or skips when the hard limit is below it.
func raiseNoFile(b *testing.B, n uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		b.Skip(err)
	}
	if rl.Cur >= n {
		return
	}
	if rl.Max < n {
		b.Skipf("RLIMIT_NOFILE hard limit %d < %d", rl.Max, n)
	}
	rl.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		b.Skip(err)
	}
}
