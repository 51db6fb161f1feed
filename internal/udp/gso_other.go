//go:build !linux

package udp

func supportsGSO(*Conn) bool    { return false }
func newGSOControl() []byte     { return nil }
func setGSOSize([]byte, int)    {}
func gsoUnsupported(error) bool { return false }
