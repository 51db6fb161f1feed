//go:build !linux && !unix

package udp

// readFD reads through the socket (there is no descriptor path here): it
// may wait for a goroutine blocked in WaitReadable on the same socket.
func (s *readerSys) readFD(r *Reader, _ int) (int, error) { return s.read(r, false) }
