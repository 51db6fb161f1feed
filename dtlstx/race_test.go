package dtlstx

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
)

// endingWriter is an association that ends while a Write is under way:
// Ready was true when SendPacket looked, Write fails as a closed DTLS
// connection does, and Ready is false afterwards.
type endingWriter struct{ ready bool }

func (w *endingWriter) Ready() bool { return w.ready }

func (w *endingWriter) Write([]byte) error {
	w.ready = false
	return errors.New("dtls: conn is closed")
}

// TestSendPacketRacingAssociationEnd: SendPacket that raced the end of its
// association returns ErrNotEstablished, the same sentinel as before the
// handshake, not the DTLS stack's error.
func TestSendPacketRacingAssociationEnd(t *testing.T) {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	tx, err := Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Config(Config{Destination: netip.MustParseAddrPort("127.0.0.1:9")}); err != nil {
		t.Fatal(err)
	}
	w := &endingWriter{}
	if err := (control{tx}).SetWriter(w); err != nil {
		t.Fatal(err)
	}
	if err := tx.SendPacket([]byte("x")); err != mediaport.ErrNotEstablished {
		t.Fatalf("before the handshake: %v, want mediaport.ErrNotEstablished", err)
	}
	w.ready = true
	if err := tx.SendPacket([]byte("x")); err != mediaport.ErrNotEstablished {
		t.Fatalf("racing the association's end: %v, want mediaport.ErrNotEstablished", err)
	}
	if st, _ := tx.Stats(); st.Errors != 0 {
		t.Fatalf("Errors = %d, want 0: a race is not a send error", st.Errors)
	}
}
