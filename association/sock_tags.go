package association

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mediaport/mediaport"
)

// MaxSockTags bounds a Sock's credential tag list (RIOT's
// CONFIG_DTLS_CREDENTIALS_MAX, larger).
const MaxSockTags = 32

// tagSet is a Sock's credential tag list: read at each handshake attempt
// without a lock, changed copy-on-write by AddCredential and
// RemoveCredential.
type tagSet struct {
	mu sync.Mutex // serialises writers
	p  atomic.Pointer[[]mediaport.CredTag]
}

func newTagSet(tags []mediaport.CredTag) *tagSet {
	t := &tagSet{}
	var l []mediaport.CredTag
	for _, tag := range tags {
		if tag != mediaport.TagEmpty && !slices.Contains(l, tag) {
			l = append(l, tag)
		}
	}
	t.p.Store(&l)
	return t
}

// load returns the list; callers do not change it.
func (t *tagSet) load() []mediaport.CredTag { return *t.p.Load() }

func (t *tagSet) add(tag mediaport.CredTag) error {
	if tag == mediaport.TagEmpty {
		return fmt.Errorf("association: %w: CREDMAN_TAG_EMPTY is not a tag", mediaport.ErrInvalidArgument)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.load()
	if slices.Contains(cur, tag) {
		return nil
	}
	if len(cur) >= MaxSockTags {
		return fmt.Errorf("association: %w: %d credential tags", mediaport.ErrLimit, MaxSockTags)
	}
	next := append(slices.Clip(cur), tag)
	t.p.Store(&next)
	return nil
}

func (t *tagSet) remove(tag mediaport.CredTag) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.load()
	i := slices.Index(cur, tag)
	if i < 0 {
		return fmt.Errorf("association: tag %d: %w", tag, mediaport.ErrCredentialNotFound)
	}
	next := slices.Delete(slices.Clone(cur), i, i+1)
	t.p.Store(&next)
	return nil
}
