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

// pump reads the Listener's statuses until it stops.
func (s *Sock) pump(c <-chan struct{}) {
	defer s.wg.Done()
	for range c {
		for {
			st, ls, _ := s.l.Status()
			switch st {
			case ListenerRunning:
			case SessionNew:
				s.serverNotice(sockNotice{ep: ls.Peer()}, true)
				continue
			case SessionEnded:
				s.serverNotice(sockNotice{ep: ls.Peer(), err: ls.Err()}, false)
				continue
			case ListenerStopped:
				s.mu.Lock()
				s.bumpLocked()
				s.mu.Unlock()
				return
			}
			break
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
