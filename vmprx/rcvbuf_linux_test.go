package vmprx_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/vmprx"
)

func sysctl(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/" + name)
	if err != nil {
		t.Skip(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConfigReadBuffer: both sockets of a VMP[rx] get the receive buffer
// Config.ReadBuffer asks for (Linux doubles it; without CAP_NET_ADMIN it
// caps it at rmem_max first), DefaultReadBuffer when 0, the system's
// default when negative; sizes beyond 1 GiB are refused.
func TestConfigReadBuffer(t *testing.T) {
	rmemMax, rmemDefault := sysctl(t, "rmem_max"), sysctl(t, "rmem_default")
	mod := openModule(t, mediaport.Options{})
	for _, c := range []struct {
		name     string
		ask      int
		min, max int // the grant SO_RCVBUF reports: capped or forced
	}{
		{"Default", 0, 2 * min(vmprx.DefaultReadBuffer, rmemMax), 2 * vmprx.DefaultReadBuffer},
		{"Small", 48 << 10, 2 * min(48<<10, rmemMax), 2 * (48 << 10)},
		{"System", -1, rmemDefault, rmemDefault},
	} {
		for _, mux := range []bool{true, false} {
			v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: mux, ReadBuffer: c.ask})
			rtp, rtcp, err := v.ReadBuffer()
			if err != nil {
				t.Fatal(err)
			}
			if rtp != rtcp || rtp < c.min || rtp > c.max {
				t.Errorf("%s (mux %v): granted %d and %d, want %d..%d", c.name, mux, rtp, rtcp, c.min, c.max)
			}
			v.Destroy()
			if _, _, err := v.ReadBuffer(); !errors.Is(err, mediaport.ErrDestroyed) {
				t.Errorf("ReadBuffer after Destroy: %v", err)
			}
		}
	}
	v, _ := vmprx.Create(mod)
	if _, _, err := v.ReadBuffer(); !errors.Is(err, mediaport.ErrState) {
		t.Errorf("ReadBuffer before Config: %v", err)
	}
	if err := v.Config(vmprx.Config{Local: lo4, ReadBuffer: 1<<30 + 1}); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Errorf("ReadBuffer 1 GiB + 1: %v", err)
	}
	if err := v.Config(vmprx.Config{Local: lo4, RTCPQueueLen: -1}); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Errorf("RTCPQueueLen -1: %v", err)
	}
}
