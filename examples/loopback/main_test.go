package main

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"
)

func TestRun(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if err := run(log, 3, 0x20, false); err != nil {
		t.Fatalf("IPv4: %v", err)
	}
	if c, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("[::1]:0"))); err != nil {
		t.Logf("IPv6 loopback unavailable: %v", err)
		return
	} else {
		c.Close()
	}
	if err := run(log, 3, 0x88, true); err != nil {
		t.Fatalf("IPv6: %v", err)
	}
}
