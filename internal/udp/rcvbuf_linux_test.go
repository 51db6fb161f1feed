package udp

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sysctlInt reads an integer from /proc/sys.
func sysctlInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("cannot read %s: %v", path, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mayForce reports whether the process has CAP_NET_ADMIN in its effective
// set (SO_RCVBUFFORCE).
func mayForce(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<unix.CAP_NET_ADMIN) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}

// TestSetReadBuffer: within net.core.rmem_max the kernel grants what was
// asked, doubled; beyond it, a process that may (CAP_NET_ADMIN) gets it
// all through SO_RCVBUFFORCE, another gets rmem_max (doubled) through the
// fallback to SO_RCVBUF. What SetReadBuffer returns is what the socket
// reports afterwards. Sizes out of range are refused. The test runs again
// without CAP_NET_ADMIN (setpriv) when it has it, so both paths run.
func TestSetReadBuffer(t *testing.T) {
	rmemMax := sysctlInt(t, "/proc/sys/net/core/rmem_max")
	force := mayForce(t)
	u, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	small := min(64<<10, rmemMax)
	got, err := u.SetReadBuffer(small)
	if err != nil || got != 2*small {
		t.Fatalf("SetReadBuffer(%d) = %d, %v; want %d", small, got, err, 2*small)
	}
	big := rmemMax + 1<<20
	got, err = u.SetReadBuffer(big)
	if err != nil {
		t.Fatal(err)
	}
	want := 2 * rmemMax
	if force {
		want = 2 * big
	}
	if got != want {
		t.Fatalf("SetReadBuffer(%d) with rmem_max %d, CAP_NET_ADMIN %v: granted %d, want %d", big, rmemMax, force, got, want)
	}
	if rb, err := u.ReadBuffer(); err != nil || rb != got {
		t.Fatalf("ReadBuffer = %d, %v after a grant of %d", rb, err, got)
	}
	t.Logf("rmem_max %d, CAP_NET_ADMIN %v: asked %d, granted %d", rmemMax, force, big, got)
	for _, n := range []int{0, -1, MaxReadBuffer + 1} {
		if _, err := u.SetReadBuffer(n); !errors.Is(err, ErrReadBuffer) {
			t.Errorf("SetReadBuffer(%d): %v, want ErrReadBuffer", n, err)
		}
	}
	if force && os.Getenv("MEDIAPORT_NO_NET_ADMIN") == "" {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Logf("setpriv (util-linux) missing: the fallback to SO_RCVBUF not run: %v", err)
			return
		}
		cmd := exec.Command(setpriv, "--bounding-set", "-net_admin", os.Args[0], "-test.run=^TestSetReadBuffer$", "-test.v")
		cmd.Env = append(os.Environ(), "MEDIAPORT_NO_NET_ADMIN=1")
		out, err := cmd.CombinedOutput()
		if err != nil && strings.HasPrefix(string(out), "setpriv:") {
			t.Logf("setpriv cannot drop CAP_NET_ADMIN here: the fallback to SO_RCVBUF not run: %s", out)
			return
		}
		if err != nil {
			t.Fatalf("without CAP_NET_ADMIN: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "CAP_NET_ADMIN false") {
			t.Fatalf("the run without CAP_NET_ADMIN still had it:\n%s", out)
		}
	}
}
