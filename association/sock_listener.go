package association

// listen makes a server Sock's Listener and starts the pump that turns
// its statuses into the Sock's notices: Recv reports each new session
// (ErrHandshakeDone) and each that ended with an error, and a Send waiting
// for a peer's handshake wakes. The pump ends with the Listener.
func (s *Sock) listen() error {
	l, err := Listen(s.rx, s.tx, s.cfg)
	if err != nil {
		return err
	}
	ev, err := l.Event()
	if err != nil {
		l.Close()
		return err
	}
	s.l = l
	// Listen made the pair's Stop close the Listener; the Sock's Close
	// does that and more.
	stop := func() { s.Close() }
	s.rxc.SetOnStop(stop)
	s.txc.SetOnStop(stop)
	s.wg.Add(1)
	go s.pump(ev.C())
	return nil
}

// pump moves the Listener's statuses to the Sock's notices until the
// Listener stops.
func (s *Sock) pump(c <-chan struct{}) {
	defer s.wg.Done()
	for range c {
		if s.drain() {
			s.mu.Lock()
			s.bumpLocked()
			s.mu.Unlock()
			return
		}
	}
}

// drain moves the statuses the Listener holds to the Sock's notices, in
// order (drainMu: the pump and Recv both drain), and reports whether the
// Listener has stopped. Recv drains before it reads data, so a session's
// ErrHandshakeDone comes before its data: the Listener reports SessionNew
// before the session's data reaches the DTLS[rx].
func (s *Sock) drain() (stopped bool) {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	for {
		st, ls, _ := s.l.Status()
		switch st {
		case SessionNew:
			s.serverNotice(sockNotice{ep: ls.Peer()}, true)
		case SessionEnded:
			s.serverNotice(sockNotice{ep: ls.Peer(), err: ls.Err()}, false)
		case ListenerStopped:
			return true
		default:
			return false
		}
	}
}

// serverNotice queues n for Recv: a new session, or one that ended with
// an error; a clean end (close_notify) only wakes waiters.
func (s *Sock) serverNotice(n sockNotice, isNew bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !isNew && n.err == nil {
		s.bumpLocked()
		return
	}
	s.noticeLocked(n)
}
