// Package curate holds the file-side parts of curation: prompt and evaluation texts
// (ReadTexts), text normalisation and n-gram hashing, contamination and duplicate checks of a
// prompt set against an evaluation set (SelectPrompts), the attack-style templates applied to
// prompts for safety data, and the ranked and pairs files a curation run writes.
//
// It talks to no server and builds no pairs: sampling, filters, judging, the pair rules and the
// resumable logs of `align data curate` and `align safety build-pairs` are in package pairs.
package curate
