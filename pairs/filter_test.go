package pairs

import (
	"github.com/alignkit/align/data/curate"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"  Hello,   World!! ", "hello world"},
		{"ＦＵＬＬ－width", "full width"},
		{"tab\tand\nnewline", "tab and newline"},
		{"!!!", ""},
	} {
		if got := curate.Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if curate.TextHash("The cat.") != curate.TextHash("the   CAT") {
		t.Error("hash differs for texts equal up to case and punctuation")
	}
	if curate.TextHash("the cat") == curate.TextHash("the dog") {
		t.Error("hash equal for different texts")
	}
}

func TestJaccardAndOverlap(t *testing.T) {
	a := curate.NGramSet(curate.Words("a b c d e"), 2) // ab bc cd de
	b := curate.NGramSet(curate.Words("c d e f"), 2)   // cd de ef
	if got, want := curate.Jaccard(a, b), 2.0/5; got != want {
		t.Errorf("Jaccard = %g, want %g", got, want)
	}
	if got, want := curate.OverlapCoefficient(a, b), 2.0/3; got != want {
		t.Errorf("overlap = %g, want %g", got, want)
	}
	short := curate.NGramSet(curate.Words("hi there"), 5)
	if len(short) != 1 {
		t.Errorf("short text gave %d grams, want 1 (the whole text)", len(short))
	}
}

const natural = "Photosynthesis converts light energy into chemical energy. Plants absorb carbon dioxide " +
	"and water, and with sunlight they produce glucose and release oxygen as a by-product of the process."

func TestDegenerate(t *testing.T) {
	o := DefaultFilterOptions()
	for _, tc := range []struct {
		name string
		text string
		want bool
	}{
		{"natural prose", natural, false},
		{"looped sentence", strings.Repeat("the cat sat on the mat. ", 10), true},
		{"loop after a good start", natural + strings.Repeat(" and then and then and then", 8), true},
		{"punctuation loop", strings.Repeat("!", 200), true},
		{"char loop without spaces", strings.Repeat("abcabc", 40), true},
		{"short repeat below the minimum", "yes yes yes yes", false},
	} {
		if got := o.Degenerate(tc.text); got != tc.want {
			r, n := RepetitionRate(tc.text, o.RepeatN)
			t.Errorf("%s: Degenerate = %v, want %v (word rate %.2f over %d grams)", tc.name, got, tc.want, r, n)
		}
	}
}

func TestFilterPlanted(t *testing.T) {
	near := strings.Replace(natural, "release oxygen", "release the oxygen", 1)
	cands := []Candidate{
		{Text: natural},                               // 0 kept
		{Text: "   "},                                 // 1 empty
		{Text: natural, DoneReason: "length"},         // 2 truncated
		{Text: strings.ToUpper(natural) + "!!"},       // 3 exact duplicate of 0 after normalisation
		{Text: near},                                  // 4 near duplicate of 0
		{Text: strings.Repeat("la la la la la ", 20)}, // 5 degenerate → auto-negative
		{Text: "ok"},                                  // 6 too short (MinChars 5)
		{Text: strings.Repeat("word", 100)},           // 7 too long (MaxChars 300)... and a char loop
		{Text: "A different, reasonable answer about leaves and chlorophyll in green plants."}, // 8 kept
	}
	opt := FilterOptions{MinChars: 5, MaxChars: 300}
	v, c := Filter(cands, opt)
	want := []string{ReasonKept, ReasonEmpty, ReasonTruncated, ReasonDuplicate, ReasonNearDuplicate,
		ReasonKept, ReasonTooShort, ReasonTooLong, ReasonKept}
	for i := range want {
		if v[i].Reason != want[i] {
			t.Errorf("candidate %d: reason %q, want %q", i, v[i].Reason, want[i])
		}
	}
	if !v[5].AutoNegative || v[5].Judged() {
		t.Errorf("candidate 5 should be an unjudged automatic negative: %+v", v[5])
	}
	if v[3].DuplicateOf != 0 || v[4].DuplicateOf != 0 {
		t.Errorf("duplicates point at %d and %d, want 0", v[3].DuplicateOf, v[4].DuplicateOf)
	}
	if v[4].Similarity < 0.8 || v[4].Similarity >= 1 {
		t.Errorf("near-duplicate similarity %g, want in [0.8, 1)", v[4].Similarity)
	}
	if c.Total != 9 || c.Judged != 2 || c.AutoNegative != 1 {
		t.Errorf("counts %+v", c)
	}
	for _, r := range []string{ReasonEmpty, ReasonTruncated, ReasonDuplicate, ReasonNearDuplicate, ReasonTooShort, ReasonTooLong} {
		if c.Dropped[r] != 1 {
			t.Errorf("dropped[%s] = %d, want 1", r, c.Dropped[r])
		}
	}

	// The other repetition policies.
	v, c = Filter(cands, FilterOptions{MinChars: 5, MaxChars: 300, Repetition: RepetitionDrop})
	if v[5].Reason != ReasonDegenerate || c.Dropped[ReasonDegenerate] != 1 {
		t.Errorf("drop policy: %+v %+v", v[5], c)
	}
	v, _ = Filter(cands, FilterOptions{MinChars: 5, MaxChars: 300, Repetition: RepetitionKeep, KeepTruncated: true})
	if !v[5].Judged() {
		t.Errorf("keep policy: degenerate not judged: %+v", v[5])
	}
	if v[2].Reason != ReasonDuplicate {
		t.Errorf("KeepTruncated: candidate 2 reason %q, want duplicate (of 0)", v[2].Reason)
	}
}

func TestFilterOptionsValidate(t *testing.T) {
	if err := (FilterOptions{Repetition: "maybe"}).Validate(); err == nil {
		t.Error("unknown repetition policy accepted")
	}
	if err := (FilterOptions{MinChars: 10, MaxChars: 5}).Validate(); err == nil {
		t.Error("max below min accepted")
	}
	if err := DefaultFilterOptions().Validate(); err != nil {
		t.Error(err)
	}
}

// TestSortedReasons: filter order (empty, truncated, too_short, too_long, degenerate,
// duplicate, near_duplicate), then reasons the filter does not know, alphabetically.
func TestSortedReasons(t *testing.T) {
	m := map[string]int{"zeta": 1, "near_duplicate": 2, "alpha": 3, "too_long": 1, "empty": 5, "duplicate": 1, "truncated": 2}
	got := strings.Join(SortedReasons(m), ",")
	if want := "empty,truncated,too_long,duplicate,near_duplicate,alpha,zeta"; got != want {
		t.Errorf("SortedReasons = %s, want %s", got, want)
	}
	if got := SortedReasons(map[string]int{"b": 1, "a": 1}); len(got) != 2 || got[0] != "a" {
		t.Errorf("unknown reasons only: %v, want [a b]", got)
	}
}
