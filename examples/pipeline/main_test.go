package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func run(t *testing.T, o Options) (*Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return Run(ctx, slog.New(slog.DiscardHandler), o)
}

// passed returns the names of the stages run, and fails the test
// if any failed.
func passed(t *testing.T, r *Report) string {
	t.Helper()
	var names []string
	for _, s := range r.Stages {
		if s.Err != nil {
			t.Errorf("stage %s failed: %v", s.Name, s.Err)
		}
		if s.Took <= 0 {
			t.Errorf("stage %s took %v", s.Name, s.Took)
		}
		names = append(names, s.Name)
	}
	return strings.Join(names, " ")
}

func TestDirect(t *testing.T) {
	r, err := run(t, Options{Packets: 30})
	if err != nil {
		t.Fatal(err)
	}
	if got := passed(t, r); got != "ports ice dtls srtp rtp stop" {
		t.Fatalf("stages %q", got)
	}
	// ice: each check's mapped address is the checker's media port.
	if !r.PortA.IsValid() || !r.PortB.IsValid() || r.PortA == r.PortB || r.SeenByB != r.PortA || r.SeenByA != r.PortB {
		t.Errorf("ports A %v B %v, seen by B %v, by A %v", r.PortA, r.PortB, r.SeenByB, r.SeenByA)
	}
	// dtls + srtp: GCM preferred by both, keys paired up.
	if r.Profile != association.SRTP_AEAD_AES_128_GCM || !r.KeysMatch {
		t.Errorf("SRTP %v, keys match %v", r.Profile, r.KeysMatch)
	}
	// rtp: every packet each way, both SSRCs reported as new, RTCP demuxed.
	if r.RTPAtoB != 30 || r.RTPBtoA != 30 || r.RTCPAtoB != 1 || r.RTCPBtoA != 1 {
		t.Errorf("RTP %d/%d RTCP %d/%d", r.RTPAtoB, r.RTPBtoA, r.RTCPAtoB, r.RTCPBtoA)
	}
	if r.NewSSRCAtB != 0xA0A0A0A0 || r.NewSSRCAtA != 0xB0B0B0B0 {
		t.Errorf("new SSRCs %#x %#x", r.NewSSRCAtB, r.NewSSRCAtA)
	}
	if r.Relayed.IsValid() || r.RTPFromA != r.PortA {
		t.Errorf("direct run: relayed %v, A's RTP from %v, want its media port %v", r.Relayed, r.RTPFromA, r.PortA)
	}
	var out bytes.Buffer
	r.Print(&out)
	if strings.Contains(out.String(), "FAIL") || strings.Count(out.String(), "ok  ") != 6 {
		t.Errorf("summary:\n%s", out.String())
	}
}

func TestRelayed(t *testing.T) {
	r, err := run(t, Options{Packets: 10, TURN: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := passed(t, r); got != "ports ice dtls srtp turn rtp stop" {
		t.Fatalf("stages %q", got)
	}
	// B's VMP[rx] saw A's RTP come from the relayed address, not from A.
	if !r.Relayed.IsValid() || r.RTPFromA != r.Relayed || r.Relayed == r.PortA {
		t.Errorf("relayed %v, A's RTP at B from %v", r.Relayed, r.RTPFromA)
	}
	if r.RTPAtoB != 10 || r.RTPBtoA != 10 || r.RTCPAtoB != 1 {
		t.Errorf("RTP %d/%d RTCP %d", r.RTPAtoB, r.RTPBtoA, r.RTCPAtoB)
	}
}

// TestWrongFingerprint: B pins a fingerprint that is not A's; the dtls
// stage fails, nothing after it runs, and the run returns the error.
func TestWrongFingerprint(t *testing.T) {
	r, err := run(t, Options{WrongFingerprint: true})
	if err == nil || !errors.Is(err, dtlsrx.ErrAssociation) {
		t.Fatalf("err %v, want the association's failure", err)
	}
	last := r.Stages[len(r.Stages)-1]
	if len(r.Stages) != 3 || last.Name != "dtls" || last.Err == nil || r.KeysMatch || r.RTPAtoB != 0 {
		t.Fatalf("stages %+v", r.Stages)
	}
	var out bytes.Buffer
	r.Print(&out)
	if !strings.Contains(out.String(), "FAIL dtls") {
		t.Errorf("summary:\n%s", out.String())
	}
}
