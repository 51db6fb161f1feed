package testutil

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
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
	fields, err := procNetRow(c)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(fields[12], 10, 64)
}

// RxQueue returns the memory the datagrams waiting on c take in the
// kernel's accounting (the rx_queue column of /proc/net/udp: bytes of
// data plus per-datagram overhead, counted against the receive buffer).
// It fails the test when it cannot read it.
func RxQueue(t testing.TB, c *net.UDPConn) uint64 {
	t.Helper()
	fields, err := procNetRow(c)
	if err != nil {
		t.Fatal(err)
	}
	_, rx, ok := strings.Cut(fields[4], ":") // tx_queue:rx_queue, hexadecimal
	n, err := strconv.ParseUint(rx, 16, 64)
	if !ok || err != nil {
		t.Fatalf("rx_queue %q: %v", fields[4], err)
	}
	return n
}

// procNetRow returns the fields of c's line in /proc/net/udp or udp6,
// found by the socket's inode.
func procNetRow(c *net.UDPConn) ([]string, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fstat(int(fd), &st) }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	inode := strconv.FormatUint(st.Ino, 10)
	for _, table := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(table)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header: sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 13 || fields[9] != inode {
				continue
			}
			f.Close()
			return fields, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("socket inode %s not in /proc/net/udp or udp6", inode)
}

// PortDrops returns the kernel's count of datagrams dropped on the IPv4
// UDP socket bound to addr, which may be another process's (a peer's):
// the drops column of its line in /proc/net/udp. ok is false when the
// line was not found: there is no such socket, or the kernel skipped it
// while other sockets came and went during the read (the table is read
// in pieces); try again.
func PortDrops(addr netip.AddrPort) (drops uint64, ok bool, err error) {
	a := addr.Addr().As4()
	// /proc/net/udp writes the address as the host-order word of the
	// network-order bytes, the port in hexadecimal.
	want := fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(a[:]), addr.Port())
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 13 && fields[1] == want {
			n, err := strconv.ParseUint(fields[12], 10, 64)
			return n, err == nil, err
		}
	}
	return 0, false, sc.Err()
}
