package testutil

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// KernelDrops returns the kernel's count of datagrams dropped on c: the
// drops column of c's line in /proc/net/udp or /proc/net/udp6, found by
// the socket's inode. It fails the test when it cannot read it.
func KernelDrops(t testing.TB, c *net.UDPConn) uint64 {
	t.Helper()
	n, err := kernelDrops(c)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func kernelDrops(c *net.UDPConn) (uint64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st syscall.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	inode := strconv.FormatUint(st.Ino, 10)
	for _, table := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(table)
		if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header: sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 13 || fields[9] != inode {
				continue
			}
			f.Close()
			return strconv.ParseUint(fields[12], 10, 64)
		}
		f.Close()
	}
	return 0, fmt.Errorf("socket inode %s not in /proc/net/udp or udp6", inode)
}
