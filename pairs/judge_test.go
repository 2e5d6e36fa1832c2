package pairs

import (
	"context"
	"strings"
	"testing"
)

func TestRuleJudge(t *testing.T) {
	j := RuleJudge{Words: []string{"happy", "friends"}, TargetLength: 4}
	if j.Score("Happy friends, happy day!") != 3 || j.Score("unhappy") != 0 || j.Score("don't be happy") != 1 {
		t.Error("word counting")
	}
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"happy", "sad", 1},                  // more target words
		{"a b c d", "a b", 1},                // equal words: 4 words is the target length
		{"a b", "c d", 0},                    // same count, same distance
		{"a b c d e f", "a b", 0},            // distance 2 either side
		{"happy a b c d e f g", "happy", -1}, // one target word each: 8 words is 4 from the target, 1 word 3
		{"sad", "happy happy", -1},
	} {
		want := c.want
		if got := j.Compare(c.a, c.b); got != want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, want)
		}
		if got := j.Compare(c.b, c.a); got != -want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.b, c.a, got, -want)
		}
	}
	// RankScore: words + 1/(1 + distance): "happy friends x" is 2 + 1/2.
	if got := j.RankScore("happy friends x"); got != 2.5 {
		t.Errorf("RankScore %v", got)
	}
	g, _ := j.Grade(context.Background(), "", []string{"a b c d", "happy"})
	if g[0] != 1 || g[1] != 1+1.0/4 {
		t.Errorf("Grade %v", g)
	}
}

func TestSideBySideParse(t *testing.T) {
	text := "Response 1 is fine.\nResponse 1: Score: 3\nResponse 2: Score: 5\nResponse 3: score: 0"
	if got := ParseSideBySide(text, 3, false); len(got) != 3 || got[0] != 3 || got[1] != 5 || got[2] != 0 {
		t.Errorf("free text: %v", got)
	}
	if got := ParseSideBySide("Response 1: Score: 3", 2, false); got != nil {
		t.Errorf("a missing response must invalidate the answer: %v", got)
	}
	if got := ParseSideBySide("Response 1: Score: 9\nResponse 2: Score: 1", 2, false); got != nil {
		t.Errorf("a score above 6: %v", got)
	}
	if got := ParseSideBySide(`{"response_1": 6, "response_2": 2}`, 2, true); len(got) != 2 || got[0] != 6 || got[1] != 2 {
		t.Errorf("structured: %v", got)
	}
	if got := ParseSideBySide(`{"response_1": 6}`, 2, true); got != nil {
		t.Errorf("structured, missing: %v", got)
	}
	f := string(SideBySideFormat(2))
	want := `{"type":"object","properties":{"response_1":{"type":"integer","enum":[0,1,2,3,4,5,6]},"response_2":{"type":"integer","enum":[0,1,2,3,4,5,6]}},"required":["response_1","response_2"],"additionalProperties":false}`
	if f != want {
		t.Errorf("format\n got %s\nwant %s", f, want)
	}
	p := SideBySidePrompt("Tell a story.", []string{"Once.", "Twice."})
	for _, s := range []string{"the 2 candidate", "User: Tell a story.", "<response 1>\nOnce.\n</response 1>", "<response 2>\nTwice.\n</response 2>"} {
		if !strings.Contains(p, s) {
			t.Errorf("prompt lacks %q:\n%s", s, p)
		}
	}
}
