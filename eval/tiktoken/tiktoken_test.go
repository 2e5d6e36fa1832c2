package tiktoken

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// jsTiktokenVersion is pinned in scripts/deps.sh (JS_TIKTOKEN_VERSION), which installs it from npm.
var jsTiktokenVersion = cmpOr(os.Getenv("JS_TIKTOKEN_VERSION"), "1.0.21")

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// jsTiktoken encodes texts with js-tiktoken (an independent implementation: the JavaScript
// regular-expression engine and js-tiktoken's own merge loop, over its own copy of the ranks).
func jsTiktoken(t *testing.T, texts []string) jsOut {
	t.Helper()
	cache := os.Getenv("ALIGN_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "align")
	}
	dir := filepath.Join(cache, "node-js-tiktoken-"+jsTiktokenVersion)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "js-tiktoken", "package.json")); err != nil {
		if os.Getenv("ALIGN_SKIP_NODE") == "1" {
			t.Skip("SKIPPED: ALIGN_SKIP_NODE=1 and no js-tiktoken — o200k_base was NOT checked against an independent encoder")
		}
		t.Fatalf("js-tiktoken is not installed in %s: run `bash scripts/deps.sh` (make test does), or set ALIGN_SKIP_NODE=1 to skip", dir)
	}
	script := filepath.Join(dir, "align-encode.mjs")
	src := "import { Tiktoken } from 'js-tiktoken/lite'\n" +
		"import o200k from 'js-tiktoken/ranks/o200k_base'\n" +
		"const enc = new Tiktoken(o200k)\n" +
		"let input = ''\n" +
		"for await (const chunk of process.stdin) input += chunk\n" +
		"process.stdout.write(JSON.stringify({pat: o200k.pat_str, ranks: o200k.bpe_ranks,\n" +
		"  ids: JSON.parse(input).map(t => enc.encode(t, [], []))}))\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(texts)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	var js jsOut
	if err := json.Unmarshal(out, &js); err != nil || len(js.IDs) != len(texts) {
		t.Fatalf("js-tiktoken output (%d texts): %v", len(texts), err)
	}
	return js
}

// jsOut is what the node script prints: o200k_base's pattern and packed ranks as js-tiktoken
// ships them, and its ids for each text.
type jsOut struct {
	Pat   string
	Ranks string
	IDs   [][]int
}

// corpus is a few hundred texts: MT-Bench questions, LLaMA-Factory's DPO demo answers (markdown,
// lists, code), HH-RLHF dialogues, and strings built to reach each branch of the pattern
// (contractions in every case, digit runs, white space before letters and at the end, newlines
// after punctuation, scripts without case, combining marks, emoji, U+FFFD).
func corpus(t *testing.T) []string {
	t.Helper()
	var texts []string
	f, err := os.Open("../../testdata/data/mt_bench_question.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var q struct{ Turns []string }
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, q.Turns...)
	}
	raw, err := os.ReadFile("../../testdata/data/dpo_en_demo.json")
	if err != nil {
		t.Fatal(err)
	}
	var demo []struct{ Chosen, Rejected struct{ Value string } }
	if err := json.Unmarshal(raw, &demo); err != nil {
		t.Fatal(err)
	}
	for _, d := range demo[:100] {
		texts = append(texts, d.Chosen.Value, d.Rejected.Value)
	}
	gz, err := os.Open("../../testdata/data/harmless-base-test.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	sc = bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for i := 0; i < 60 && sc.Scan(); i++ {
		var hh struct{ Chosen string }
		if err := json.Unmarshal(sc.Bytes(), &hh); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, hh.Chosen)
	}
	texts = append(texts,
		"", " ", "\n", "  \n\n  x   ", "a  b\t\tc \r\n d\n\n\n", "trailing spaces   ", "\t\n \n",
		"I'm don't WE'LL you'Re THEY'VE she'D it'S I'M", "'s's 's", "rock'n'roll",
		"1234567890 12 345 6789 3.14159 1,000,000", "x1y22z333w4444", "٣٤٥ ١٢٣٤", "Ⅻ ½ ²³",
		"hello!!!\n\n/// path/to/file\n", "end.\r\n", "??\n\n", "a/b//\n/",
		"Ελληνικά και Русский текст", "日本語のテキスト、中文文本。", "한국어 텍스트", "עברית ערבית العربية",
		"नमस्ते दुनिया", "e\u0301 n\u0303 cafe\u0301", "ÀÉÎõü ß ǅ ǈ", "🙂👍🏽 👨‍👩‍👧 🇫🇷", "\ufffd \ufffdx",
		"<|endoftext|> is ordinary text <|endofprompt|>", "```go\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n```",
		"# Title\n\n## Sub\n\n- **bold** item\n- __under__\n1. one\n2. two\n", "x\u00a0y\u2003z\u3000w",
		"CamelCaseWord lowerUPPER ABCdef HTTPServer", "$%^&*()_+-={}[]|\\:;\"<>,.?~`",
	)
	rng := rand.New(rand.NewSource(1))
	alphabet := []rune("aAzZ 09'\n\t.,!?-_/ éÉßñ日本ёЁ\u0301🙂\u00a0")
	for i := 0; i < 100; i++ {
		n := 1 + rng.Intn(40)
		r := make([]rune, n)
		for j := range r {
			r[j] = alphabet[rng.Intn(len(alphabet))]
		}
		texts = append(texts, string(r))
	}
	return texts
}

// TestMatchesJsTiktoken encodes the corpus with align and with js-tiktoken and wants the same
// ids for every text.
func TestMatchesJsTiktoken(t *testing.T) {
	e, err := O200kBase()
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() != 199998 {
		t.Errorf("o200k_base has %d ordinary tokens, want 199998 (ranks 0..199997)", e.Len())
	}
	texts := corpus(t)
	if len(texts) < 400 {
		t.Fatalf("corpus has %d texts", len(texts))
	}
	want := jsTiktoken(t, texts).IDs
	total, bad := 0, 0
	for i, text := range texts {
		got, err := e.Encode(text)
		if err != nil {
			t.Fatalf("text %d: %v", i, err)
		}
		total += len(want[i])
		if !slices.Equal(got, want[i]) {
			bad++
			if bad <= 5 {
				t.Errorf("text %d %q:\n align      %v\n js-tiktoken %v", i, text, got, want[i])
			}
		}
		if n, _ := e.Count(text); n != len(want[i]) {
			t.Errorf("text %d: Count %d, js-tiktoken %d tokens", i, n, len(want[i]))
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d texts differ", bad, len(texts))
	}
	t.Logf("%d texts, %d tokens, all equal to js-tiktoken's", len(texts), total)
}

// TestDataIsJsTiktokens: the embedded ranks and the pattern are js-tiktoken's, byte for byte.
func TestDataIsJsTiktokens(t *testing.T) {
	js := jsTiktoken(t, []string{})
	if js.Pat != O200kPattern {
		t.Errorf("O200kPattern differs from js-tiktoken's pat_str:\n%s\n%s", O200kPattern, js.Pat)
	}
	zr, err := gzip.NewReader(bytes.NewReader(o200kRanks))
	if err != nil {
		t.Fatal(err)
	}
	var packed bytes.Buffer
	if _, err := packed.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	if packed.String() != js.Ranks {
		t.Errorf("o200k_base.ranks.gz (%d bytes unpacked) differs from js-tiktoken's bpe_ranks (%d bytes)", packed.Len(), len(js.Ranks))
	}
}

// TestWhitespaceIsUnicode: the pattern's \s is Unicode White_Space (Go's unicode table, an
// independent source), as in Python tiktoken's Rust regex engine; JavaScript's \s differs on
// U+0085 (not in it) and U+FEFF (in it), so the corpus above avoids those two.
func TestWhitespaceIsUnicode(t *testing.T) {
	re := regexp2.MustCompile(`^\s$`, regexp2.None)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		ok, err := re.MatchString(string(r))
		if err != nil {
			t.Fatal(err)
		}
		if ok != unicode.Is(unicode.White_Space, r) {
			t.Errorf("U+%04X: \\s matches %v, White_Space %v", r, ok, unicode.Is(unicode.White_Space, r))
		}
	}
}

// TestMergeOrder checks the merge loop on a hand-made vocabulary where the answer is worked out
// by hand: the lowest rank merges first, the leftmost on a tie of ranks (one token cannot have
// two ranks, so a tie is the same pair twice).
func TestMergeOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("! 0")
	for i := 0; i < 256; i++ {
		b.WriteString(" " + b64([]byte{byte(i)}))
	}
	// ranks 256.. : "bc", "ab", "aa", "aaa" ("abc" is not a token)
	b.WriteString("\n! 256 " + b64([]byte("bc")) + " " + b64([]byte("ab")) + " " + b64([]byte("aa")) + " " + b64([]byte("aaa")))
	e, err := New(b.String(), `\S+|\s+`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		want []int
	}{
		// a b c: "bc" (256) merges before "ab" (257); "a"+"bc" is no token: [a, bc].
		{"abc", []int{'a', 256}},
		// a b a b c -> a b a bc (256) -> ab a bc (257); "aba" and "abc" are no tokens.
		{"ababc", []int{257, 'a', 256}},
		// a a a a a: "aa" (258) three times, the leftmost first -> aa a a a; then "aa" at
		// parts 1-2 (258) beats "aaa" at 0-1 (259) -> aa aa a; then "aaa" at 1-2 -> aa aaa.
		// Taking the rightmost tie first would give a aa aa.
		{"aaaaa", []int{258, 259}},
		// a piece that is a token is taken whole.
		{"aaa", []int{259}},
		{"ab ab", []int{257, ' ', 257}},
		{"q", []int{'q'}},
	} {
		got, err := e.Encode(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func b64(b []byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var out []byte
	for i := 0; i < len(b); i += 3 {
		var v uint32
		n := min(3, len(b)-i)
		for j := 0; j < 3; j++ {
			v <<= 8
			if j < n {
				v |= uint32(b[i+j])
			}
		}
		for j := 0; j < 4; j++ {
			if j <= n {
				out = append(out, enc[(v>>(18-6*j))&63])
			} else {
				out = append(out, '=')
			}
		}
	}
	return string(out)
}

func TestNewRejectsBadRanks(t *testing.T) {
	var all strings.Builder
	all.WriteString("! 0")
	for i := 0; i < 256; i++ {
		all.WriteString(" " + b64([]byte{byte(i)}))
	}
	full := all.String()
	for _, c := range []struct{ packed, want string }{
		{strings.Replace(full, " "+b64([]byte{'q'}), "", 1), "single byte 0x71"},
		{full + "\n! x " + b64([]byte("ab")), `first rank "x"`},
		{full + "\n! 300 %%%", "not a non-empty base64 token"},
		{full + "\n! 300 " + b64([]byte("a")), "has ranks 97 and 300"},
		{full + "\n!", "got 1 fields"},
	} {
		if _, err := New(c.packed, `\S+`); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New: err %v, want it to contain %q", err, c.want)
		}
	}
	if _, err := New(full, `(`); err == nil || !strings.Contains(err.Error(), "pre-tokenizer pattern") {
		t.Errorf("bad pattern: err %v", err)
	}
}

// BenchmarkCount counts the tokens of LLaMA-Factory's DPO demo answers (English prose with
// markdown and code); b.SetBytes makes -bench report MB/s.
func BenchmarkCount(b *testing.B) {
	raw, err := os.ReadFile("../../testdata/data/dpo_en_demo.json")
	if err != nil {
		b.Fatal(err)
	}
	var demo []struct{ Chosen struct{ Value string } }
	if err := json.Unmarshal(raw, &demo); err != nil {
		b.Fatal(err)
	}
	e, err := O200kBase()
	if err != nil {
		b.Fatal(err)
	}
	var text strings.Builder
	for _, d := range demo {
		text.WriteString(d.Chosen.Value)
	}
	s := text.String()
	b.SetBytes(int64(len(s)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Count(s); err != nil {
			b.Fatal(err)
		}
	}
}
