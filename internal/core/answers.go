package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// The default budget of error answers: a module sends at most AnswerBurst
// error answers larger than their request at once, and AnswerRate per
// second after that.
const (
	AnswerRate  = 100
	AnswerBurst = 100
)

// AnswerBudget is a token bucket that limits the error answers sent to
// unauthenticated peers (STUN 400, 401, 420, 438) when they are larger
// than the request: without it every port would be a reflection amplifier.
// The zero value holds AnswerBurst tokens and refills AnswerRate a second;
// it is safe for concurrent use.
type AnswerBudget struct {
	mu     sync.Mutex
	init   bool
	tokens float64
	last   time.Time

	suppressed atomic.Uint64
}

// Allow takes a token at time now (the module clock's) and reports whether
// there was one; a refusal is counted in Suppressed.
func (b *AnswerBudget) Allow(now time.Time) bool {
	b.mu.Lock()
	if !b.init {
		b.init, b.tokens, b.last = true, AnswerBurst, now
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens += d.Seconds() * AnswerRate
		if b.tokens > AnswerBurst {
			b.tokens = AnswerBurst
		}
		b.last = now
	}
	ok := b.tokens >= 1
	if ok {
		b.tokens--
	}
	b.mu.Unlock()
	if !ok {
		b.suppressed.Add(1)
	}
	return ok
}

// Suppressed returns the number of answers Allow refused.
func (b *AnswerBudget) Suppressed() uint64 { return b.suppressed.Load() }
