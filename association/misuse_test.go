package association_test

import (
	"errors"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
)

// TestBindHandles: Bind refuses nil, zero and destroyed endpoints with an
// error errors.Is matches, and binds nothing.
func TestBindHandles(t *testing.T) {
	mod := certModule(t)
	s := newSide(t, mod)
	s.tx.Config(dtlstx.Config{Destination: s.port, Local: s.port})
	cfg := association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}}
	dead, _ := dtlsrx.Create(mod)
	dead.Destroy()
	deadTx, _ := dtlstx.Create(mod)
	deadTx.Destroy()
	for _, tc := range []struct {
		name string
		rx   *dtlsrx.DTLSRx
		tx   *dtlstx.DTLSTx
		want error
	}{
		{"nil DTLS[rx]", nil, s.tx, mediaport.ErrNilHandle},
		{"nil DTLS[tx]", s.rx, nil, mediaport.ErrNilHandle},
		{"zero DTLS[rx]", &dtlsrx.DTLSRx{}, s.tx, mediaport.ErrNilHandle},
		{"zero DTLS[tx]", s.rx, &dtlstx.DTLSTx{}, mediaport.ErrNilHandle},
		{"destroyed DTLS[rx]", dead, s.tx, mediaport.ErrDestroyed},
		{"destroyed DTLS[tx]", s.rx, deadTx, mediaport.ErrDestroyed},
	} {
		if a, err := association.Bind(tc.rx, tc.tx, cfg); a != nil || !errors.Is(err, tc.want) {
			t.Errorf("%s: Bind = %v, %v; want %v", tc.name, a, err, tc.want)
		}
	}
	// Nothing was bound: the live pair still binds.
	a, err := association.Bind(s.rx, s.tx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// TestNilAssociation: every method of a nil or zero Association returns
// ErrNilHandle or a zero value, and none panics.
func TestNilAssociation(t *testing.T) {
	for _, a := range []*association.Association{nil, {}} {
		if err := a.Close(); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Errorf("%p Close: %v", a, err)
		}
		if st, err := a.State(); st != association.Closed || !errors.Is(err, mediaport.ErrNilHandle) {
			t.Errorf("%p State: %v %v", a, st, err)
		}
		if p := a.Peer(); p.IsValid() {
			t.Errorf("%p Peer: %v", a, p)
		}
		if st := a.Stats(); st != (association.Stats{}) {
			t.Errorf("%p Stats: %+v", a, st)
		}
		if _, err := a.Info(); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Errorf("%p Info: %v", a, err)
		}
		if _, err := a.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Errorf("%p ExportKeyingMaterial: %v", a, err)
		}
		if _, err := a.SRTPKeys(); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Errorf("%p SRTPKeys: %v", a, err)
		}
		if err := a.VerifyPeerFingerprint("sha-256 00"); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Errorf("%p VerifyPeerFingerprint: %v", a, err)
		}
	}
}

// TestStateString: every State has a name, and one out of range a
// numbered form rather than a panic.
func TestStateString(t *testing.T) {
	for s, want := range map[association.State]string{
		association.Handshaking: "handshaking", association.Established: "established",
		association.Closed: "closed", association.Failed: "failed",
		-1: "State(-1)", 4: "State(4)",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}
