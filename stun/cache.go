package stun

// The response cache answers a retransmitted request with the response
// already sent (pjnath's response cache). A peer creates an entry with
// every request it sends under a new transaction ID, so the cache is
// bounded: at most MaxCachedResponses entries, the oldest evicted first,
// and one timer for the whole cache rather than one per entry.

// cacheLocked keeps a copy of a response for ResCacheTime, evicting the
// oldest entry when the cache is full (whose storage it reuses).
func (s *Session) cacheLocked(t *TxData) {
	key := tsxKey{t.magic, t.Msg.TransactionID}
	var c *cached
	if old := s.cache[key]; old != nil {
		s.unlinkLocked(old) // a new response to the same request
		c = old
	} else if len(s.cache) >= s.cfg.MaxCachedResponses && s.cacheHead != nil {
		c = s.cacheHead
		s.unlinkLocked(c)
		delete(s.cache, c.key)
		s.stats.CacheEvictions++
	} else {
		c = new(cached)
	}
	c.key, c.token = key, t.token
	c.raw = append(c.raw[:0], t.Msg.Raw...)
	c.expires = s.cfg.Clock.Now().Add(s.cfg.ResCacheTime)
	c.prev, c.next = s.cacheTail, nil
	if s.cacheTail != nil {
		s.cacheTail.next = c
	} else {
		s.cacheHead = c
	}
	s.cacheTail = c
	s.cache[key] = c
	if s.cacheTimer == nil {
		s.cacheTimer = s.cfg.Clock.AfterFunc(s.cfg.ResCacheTime, s.expireCache)
	}
}

func (s *Session) unlinkLocked(c *cached) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		s.cacheHead = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		s.cacheTail = c.prev
	}
	c.prev, c.next = nil, nil
}

// expireCache is the cache timer: it drops the entries whose time has
// come and sets itself for the next one.
func (s *Session) expireCache() {
	if s.enter() != nil {
		return
	}
	defer s.lock.Unlock()
	s.cacheTimer = nil
	now := s.cfg.Clock.Now()
	for c := s.cacheHead; c != nil && !c.expires.After(now); c = s.cacheHead {
		s.unlinkLocked(c)
		delete(s.cache, c.key)
	}
	if c := s.cacheHead; c != nil {
		s.cacheTimer = s.cfg.Clock.AfterFunc(c.expires.Sub(now), s.expireCache)
	}
}
