package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/turnserver"
)

// Coturn is a coturn turnserver running on loopback for one test.
type Coturn struct {
	Addr     netip.AddrPort // UDP listening address (127.0.0.1)
	Realm    string
	User     string
	Password string
	LogPath  string
	cmd      *exec.Cmd
	done     chan struct{}
	bin      string
	args     []string
}

// CoturnOptions change StartCoturn's defaults (user alice, password
// secret, realm example.org).
type CoturnOptions struct {
	User, Password, Realm string
	// Extra arguments appended to the command line.
	Args []string
}

// StartCoturn starts turnserver on 127.0.0.1 with long-term credentials,
// loopback peers allowed, and no TLS/DTLS/CLI (with its CLI, a second
// instance would clash on the CLI's port). It returns once the server answers a STUN Binding request, and stops it
// (SIGTERM, then SIGKILL) when the test ends. It skips, or fails under
// MEDIAPORT_REQUIRE_PEERS=1, when turnserver is not installed.
func StartCoturn(t testing.TB, o CoturnOptions) *Coturn {
	t.Helper()
	bin := Peer(t, "turnserver")
	if o.User == "" {
		o.User = "alice"
	}
	if o.Password == "" {
		o.Password = "secret"
	}
	if o.Realm == "" {
		o.Realm = "example.org"
	}
	dir := t.TempDir()
	for attempt := 0; attempt < 5; attempt++ {
		port := FreeUDPPort(t)
		relay := 20000 + rand.IntN(40000)
		c := &Coturn{
			Addr:     netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
			Realm:    o.Realm,
			User:     o.User,
			Password: o.Password,
			LogPath:  filepath.Join(dir, fmt.Sprintf("turn-%d.log", attempt)),
			done:     make(chan struct{}),
			bin:      bin,
		}
		args := []string{"-n", "-L", "127.0.0.1", "-p", fmt.Sprint(port), "-E", "127.0.0.1",
			fmt.Sprintf("--min-port=%d", relay), fmt.Sprintf("--max-port=%d", relay+99),
			"-a", "-u", o.User + ":" + o.Password, "-r", o.Realm, "-f",
			"--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",
			"-l", c.LogPath, "--simple-log",
			"--pidfile=" + filepath.Join(dir, fmt.Sprintf("pid-%d", attempt)),
			"--userdb=" + filepath.Join(dir, fmt.Sprintf("db-%d", attempt))}
		args = append(args, o.Args...)
		c.args = args
		c.cmd = exec.Command(bin, args...)
		c.cmd.Stdout, c.cmd.Stderr = nil, nil
		if err := c.cmd.Start(); err != nil {
			t.Fatalf("start turnserver: %v", err)
		}
		go func() { c.cmd.Wait(); close(c.done) }()
		if c.waitReady(3 * time.Second) {
			t.Cleanup(c.Stop)
			return c
		}
		c.Stop()
	}
	t.Fatalf("turnserver did not become ready")
	return nil
}

// waitReady sends STUN Binding requests until the server answers.
func (c *Coturn) waitReady(limit time.Duration) bool {
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(c.Addr))
	if err != nil {
		return false
	}
	defer conn.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	buf := make([]byte, 1500)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return false
		default:
		}
		conn.Write(req.Raw)
		conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, err := conn.Read(buf); err == nil && stun.IsMessage(buf[:n]) {
			return true
		}
		time.Sleep(10 * time.Millisecond) // "connection refused" returns at once
	}
	return false
}

// Stop stops the server (SIGTERM, SIGKILL after a second) and waits for it.
// Stopping twice is harmless.
func (c *Coturn) Stop() {
	if c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// Log returns the server's log so far, for failure messages.
func (c *Coturn) Log() string {
	b, _ := os.ReadFile(c.LogPath)
	return string(b)
}

// StartTurnutilsPeer starts turnutils_peer, coturn's UDP echo peer, on
// 127.0.0.1 and returns its address; it is killed when the test ends.
func StartTurnutilsPeer(t testing.TB) netip.AddrPort {
	t.Helper()
	bin := Peer(t, "turnutils_peer")
	port := FreeUDPPort(t)
	cmd := exec.Command(bin, "-L", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start turnutils_peer: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	// Ready when it echoes.
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	for i := 0; i < 100; i++ {
		conn.Write([]byte("ping"))
		conn.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		if n, err := conn.Read(buf); err == nil && string(buf[:n]) == "ping" {
			return addr
		}
		time.Sleep(10 * time.Millisecond) // "connection refused" returns at once
	}
	t.Fatalf("turnutils_peer on %v does not echo", addr)
	return addr
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago,
// for a peer program that must be told its port. It is chosen below the
// kernel's ephemeral range, so no socket bound to port 0 meanwhile (by
// this or another test process) can take it before the peer binds it;
// only another FreeUDPPort could, at random, and both bind-check it.
func FreeUDPPort(t testing.TB) uint16 {
	t.Helper()
	lo, hi := 20000, ephemeralLow()-1
	for range 1000 {
		port := lo + rand.IntN(hi-lo+1)
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			continue // in use
		}
		c.Close()
		return uint16(port)
	}
	t.Fatalf("no free UDP port in %d-%d", lo, hi)
	return 0
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default, 32768, where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 21024 {
		return 32768
	}
	return n
}

// StartPionTURN starts an in-process pion/turn server on 127.0.0.1 (user
// alice, password secret, realm example.org) and closes it when the test
// ends. Unlike coturn it answers a wrong password with 400 and keeps nonces
// for an hour.
func StartPionTURN(t testing.TB) *turnserver.Server {
	t.Helper()
	s, err := turnserver.Start(netip.MustParseAddrPort("127.0.0.1:0"), "example.org", "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Restart kills the server (SIGKILL: it forgets every allocation) and
// starts it again with the same arguments, on the same port, returning
// once it answers.
func (c *Coturn) Restart(t testing.TB) {
	t.Helper()
	if c.cmd.Process != nil {
		c.cmd.Process.Kill()
		<-c.done
	}
	for attempt := 0; attempt < 5; attempt++ {
		c.done = make(chan struct{})
		c.cmd = exec.Command(c.bin, c.args...)
		if err := c.cmd.Start(); err != nil {
			t.Fatalf("restart turnserver: %v", err)
		}
		done := c.done
		cmd := c.cmd
		go func() { cmd.Wait(); close(done) }()
		if c.waitReady(3 * time.Second) {
			return
		}
		c.Stop()
	}
	t.Fatalf("turnserver did not come back on %v", c.Addr)
}
