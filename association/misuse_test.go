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
	s.tx.Config(dtlstx.Config{Destination: s.port, Source: s.port})
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
