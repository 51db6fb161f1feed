package mediaport_test

import (
	"errors"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/turn"
	"github.com/mediaport/mediaport/vmprx"
)

// TestOneSentinelPerConcept: the packages' ErrNoPacket and
// ErrNotEstablished are the module's, so errors.Is matches across them.
func TestOneSentinelPerConcept(t *testing.T) {
	for name, err := range map[string]error{"vmprx": vmprx.ErrNoPacket, "dtlsrx": dtlsrx.ErrNoPacket, "turn": turn.ErrNoPacket} {
		if err != mediaport.ErrNoPacket {
			t.Errorf("%s.ErrNoPacket is not mediaport.ErrNoPacket", name)
		}
	}
	for name, err := range map[string]error{"dtlstx": dtlstx.ErrNotEstablished, "association": association.ErrNotEstablished} {
		if err != mediaport.ErrNotEstablished {
			t.Errorf("%s.ErrNotEstablished is not mediaport.ErrNotEstablished", name)
		}
	}
	if !errors.Is(mediaport.ErrNotEstablished, mediaport.ErrState) {
		t.Error("ErrNotEstablished does not match ErrState")
	}
	if errors.Is(mediaport.ErrNoPacket, mediaport.ErrState) {
		t.Error("ErrNoPacket matches ErrState")
	}
}
