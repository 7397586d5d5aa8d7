package controller

import (
	"testing"
	"time"
)

func TestOwnCreationsAreNewsOnlyToOthers(t *testing.T) {
	var c ownCreations
	start := time.Now()
	c.add("generated", start)
	if !c.take("generated") {
		t.Error("a Secret the operator created is not recognised as its own")
	}
	if c.take("generated") {
		t.Error("a Secret is recognised twice: its re-creation by a user would be ignored")
	}
	if c.take("restored-by-a-user") {
		t.Error("a Secret the operator did not create is taken for its own")
	}
	c.add("never-seen-by-the-watch", start)
	c.add("later", start.Add(ownCreationMemory+time.Second))
	if _, kept := c.uids["never-seen-by-the-watch"]; kept {
		t.Error("an entry the watch never took is kept forever")
	}
	if !c.take("later") {
		t.Error("a recent entry was forgotten")
	}
}
