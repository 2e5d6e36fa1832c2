package data

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Record is one row of a dataset, as one of the three shapes; exactly one pointer is set,
// matching Kind.
type Record struct {
	Row      int // 1-based row number in the source
	Kind     Kind
	Pair     *Pair
	Ranked   *Ranked
	Unpaired *Unpaired
}

// mapper turns raw rows into records following one layout.
type mapper struct {
	file   string
	opt    Options
	layout Layout
	kind   Kind
	cols   map[string]string // align's name -> the file's name
	known  map[string]bool   // the file's names the layout consumes (others go to Meta)
}

func (m *mapper) src(c string) string {
	if s, ok := m.cols[c]; ok {
		return s
	}
	return c
}

func (m *mapper) get(f map[string]any, c string) (any, bool) {
	v, ok := f[m.src(c)]
	return v, ok
}

// detect picks the layout from the first valid row's columns and value types.
func detect(file string, opt Options, f map[string]any) (*mapper, error) {
	m := &mapper{file: file, opt: opt, cols: map[string]string{}, known: map[string]bool{}}
	for k, v := range opt.Columns {
		m.cols[k] = v
		if _, ok := f[v]; !ok {
			return nil, &Issue{File: file, Column: v, Reason: "missing column", Detail: fmt.Sprintf("mapped to %s, but the file's columns are %s", k, columnList(f))}
		}
	}
	has := func(c string) bool { _, ok := m.get(f, c); return ok }
	switch {
	case has("responses"):
		m.layout, m.kind = LayoutRankedResponses, KindRanked
	case has("completions"):
		m.layout, m.kind = LayoutUltraFeedback, KindRanked
	case has("conversations") && has("chosen") && has("rejected"):
		m.layout, m.kind = LayoutShareGPT, KindPairwise
	case has("chosen_messages") && has("rejected_messages"):
		m.layout, m.kind = LayoutMessagesV1, KindPairwise
	case has("chosen") && has("rejected"):
		m.kind = KindPairwise
		cv, _ := m.get(f, "chosen")
		_, isStr := cv.(string)
		switch {
		case isStr && has("prompt"):
			m.layout = LayoutPromptStrings
		case isStr:
			if !strings.Contains(cv.(string), "Human:") {
				return nil, &Issue{File: file, Reason: "missing column", Column: m.src("prompt"),
					Detail: "chosen and rejected are strings but there is no prompt column, and they are not HH transcripts (\"\\n\\nHuman: …\\n\\nAssistant: …\"); name the prompt column with --prompt-col"}
			}
			m.layout = LayoutHH
		default:
			msgs, _ := parseMessages(cv, "assistant")
			if has("prompt") && len(msgs) > 0 && msgs[0].Role == "assistant" {
				m.layout = LayoutExplicitConversational
			} else {
				m.layout = LayoutImplicitConversational
			}
		}
	case has("label") && has("completion"):
		m.layout, m.kind = LayoutUnpaired, KindUnpaired
	case has("label") && has("messages"):
		m.layout, m.kind = LayoutUnpairedMessages, KindUnpaired
	default:
		return nil, &Issue{File: file, Reason: "unknown layout", Detail: fmt.Sprintf("columns %s: want chosen and rejected (pairwise), responses or completions (ranked), or completion or messages with label (unpaired); name yours with --map chosen=NAME or --chosen-col NAME", columnList(f))}
	}
	for _, c := range m.layoutColumns() {
		m.known[m.src(c)] = true
	}
	for _, c := range []string{"id", "prompt_id", "question_id", "meta", "system"} {
		m.known[m.src(c)] = true
	}
	return m, nil
}

func (m *mapper) layoutColumns() []string {
	switch m.layout {
	case LayoutRankedResponses:
		return []string{"prompt", "responses", "instruction"}
	case LayoutUltraFeedback:
		return []string{"instruction", "prompt", "completions"}
	case LayoutShareGPT:
		return []string{"conversations", "chosen", "rejected"}
	case LayoutMessagesV1:
		return []string{"chosen_messages", "rejected_messages"}
	case LayoutUnpaired:
		return []string{"prompt", "completion", "label"}
	case LayoutUnpairedMessages:
		return []string{"messages", "label"}
	}
	return []string{"prompt", "chosen", "rejected", "score_chosen", "score_rejected", "margin", "messages"}
}

func columnList(f map[string]any) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return "[" + strings.Join(keys, ", ") + "]"
}

// rowIssue builds an issue for the current row.
func (m *mapper) rowIssue(rr rawRow, col, reason, detail string) *Issue {
	return &Issue{File: m.file, Row: rr.row, Line: rr.line, Column: col, Reason: reason, Detail: detail}
}

// messagesCol reads column c as messages, with defaultRole for a bare string, and names
// problems by role ("prompt" or "response").
func (m *mapper) messagesCol(rr rawRow, c, defaultRole, what string) ([]Message, *Issue) {
	v, ok := m.get(rr.fields, c)
	col := m.src(c)
	if !ok {
		return nil, m.rowIssue(rr, col, "missing column", "")
	}
	if v == nil {
		return nil, m.rowIssue(rr, col, "null "+what, "")
	}
	msgs, err := parseMessages(v, defaultRole)
	if err != nil {
		err.File, err.Row, err.Line, err.Column = m.file, rr.row, rr.line, col
		return nil, err
	}
	return msgs, nil
}

// mapRow turns one raw row into a record.
func (m *mapper) mapRow(rr rawRow) (Record, *Issue) {
	rec := Record{Row: rr.row, Kind: m.kind}
	switch m.kind {
	case KindRanked:
		r, is := m.ranked(rr)
		rec.Ranked = r
		return rec, is
	case KindUnpaired:
		u, is := m.unpaired(rr)
		rec.Unpaired = u
		return rec, is
	}
	p, is := m.pair(rr)
	rec.Pair = p
	return rec, is
}

func (m *mapper) id(rr rawRow) string {
	for _, c := range []string{"id", "prompt_id", "question_id"} {
		if c != "id" && m.cols["id"] != "" {
			break
		}
		if v, ok := m.get(rr.fields, c); ok && v != nil {
			if s, ok := scalarString(v); ok && s != "" {
				return s
			}
		}
	}
	return "row " + strconv.Itoa(rr.row)
}

// meta collects the row's other scalar columns, and align's own "meta" column.
func (m *mapper) meta(rr rawRow) map[string]string {
	var out map[string]string
	set := func(k, v string) {
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	for k, v := range rr.fields {
		if m.known[k] {
			continue
		}
		if s, ok := scalarString(v); ok {
			set(k, s)
		}
	}
	switch mv := rr.fields[m.src("meta")].(type) {
	case map[string]any:
		for k, v := range mv {
			if s, ok := scalarString(v); ok {
				set(k, s)
			}
		}
	case []any, *[]any:
		items, _ := asList(mv)
		for _, it := range items {
			kv, _ := it.(map[string]any)
			k, _ := kv["key"].(string)
			v, ok := scalarString(kv["value"])
			if k != "" && ok {
				set(k, v)
			}
		}
	}
	return out
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case *[]any:
		if x == nil {
			return nil, true
		}
		return *x, true
	}
	return nil, false
}

func (m *mapper) score(rr rawRow, c string) (*float64, *Issue) {
	v, ok := m.get(rr.fields, c)
	if !ok || v == nil {
		return nil, nil
	}
	f, ok := number(v)
	if !ok {
		return nil, m.rowIssue(rr, m.src(c), "mistyped column", "want a number, got "+jsonTypeName(v))
	}
	return &f, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case int64:
		return float64(x), true
	}
	return 0, false
}

func (m *mapper) pair(rr rawRow) (*Pair, *Issue) {
	p := &Pair{ID: m.id(rr), Meta: m.meta(rr)}
	var is *Issue
	switch m.layout {
	case LayoutShareGPT:
		if p.Prompt, is = m.messagesCol(rr, "conversations", "user", "prompt"); is != nil {
			return nil, is
		}
		if sys, ok := rr.fields[m.src("system")].(string); ok && sys != "" {
			p.Prompt = append([]Message{{Role: "system", Content: sys}}, p.Prompt...)
		}
		if p.Chosen, is = m.messagesCol(rr, "chosen", "assistant", "response"); is != nil {
			return nil, is
		}
		if p.Rejected, is = m.messagesCol(rr, "rejected", "assistant", "response"); is != nil {
			return nil, is
		}
		return p, nil
	case LayoutMessagesV1:
		c, is := m.messagesCol(rr, "chosen_messages", "assistant", "response")
		if is != nil {
			return nil, is
		}
		r, is := m.messagesCol(rr, "rejected_messages", "assistant", "response")
		if is != nil {
			return nil, is
		}
		if is := m.splitShared(rr, p, c, r, "rejected_messages"); is != nil {
			return nil, is
		}
		return p, nil
	}
	cv, cok := m.get(rr.fields, "chosen")
	rv, rok := m.get(rr.fields, "rejected")
	if !cok {
		return nil, m.rowIssue(rr, m.src("chosen"), "missing column", "")
	}
	if !rok {
		return nil, m.rowIssue(rr, m.src("rejected"), "missing column", "")
	}
	pv, pok := m.get(rr.fields, "prompt")
	cs, cStr := cv.(string)
	rs, rStr := rv.(string)
	switch {
	case cStr && rStr && !pok:
		c, ok := splitHH(cs)
		if !ok {
			return nil, m.rowIssue(rr, m.src("chosen"), "not an HH transcript", "want \"\\n\\nHuman: …\\n\\nAssistant: …\"")
		}
		r, ok := splitHH(rs)
		if !ok {
			return nil, m.rowIssue(rr, m.src("rejected"), "not an HH transcript", "want \"\\n\\nHuman: …\\n\\nAssistant: …\"")
		}
		if len(c) < 2 || len(r) < 2 || c[len(c)-1].Role != "assistant" || r[len(r)-1].Role != "assistant" || !sameMessages(c[:len(c)-1], r[:len(r)-1]) {
			return nil, m.rowIssue(rr, m.src("rejected"), "no shared prompt prefix",
				fmt.Sprintf("chosen has %d messages and rejected %d; they differ from message %d on, so the prompt is not all but their last turns", len(c), len(r), commonPrefix(c, r)+1))
		}
		p.Prompt, p.Chosen, p.Rejected = c[:len(c)-1], c[len(c)-1:], r[len(r)-1:]
	default:
		if cv == nil {
			return nil, m.rowIssue(rr, m.src("chosen"), "null response", "")
		}
		if rv == nil {
			return nil, m.rowIssue(rr, m.src("rejected"), "null response", "")
		}
		c, is := m.messagesCol(rr, "chosen", "assistant", "response")
		if is != nil {
			return nil, is
		}
		r, is := m.messagesCol(rr, "rejected", "assistant", "response")
		if is != nil {
			return nil, is
		}
		if len(c) > 0 && len(r) > 0 && (c[0].Role != "assistant" || r[0].Role != "assistant") {
			// The conversations hold the prompt (TRL implicit prompt, ultrafeedback_binarized):
			// a prompt column, if any, repeats the last user turn and is not needed.
			if is := m.splitShared(rr, p, c, r, m.src("rejected")); is != nil {
				return nil, is
			}
			break
		}
		p.Chosen, p.Rejected = c, r
		if !pok {
			return nil, m.rowIssue(rr, m.src("prompt"), "missing column", "the responses do not hold the prompt, so a prompt column is needed")
		}
		if pv == nil {
			return nil, m.rowIssue(rr, m.src("prompt"), "null prompt", "")
		}
		if ps, ok := pv.(string); ok && strings.HasPrefix(strings.TrimLeft(ps, " \n"), "Human:") {
			if msgs, ok := splitHH(ps); ok {
				if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" && msgs[n-1].Content == "" {
					msgs = msgs[:n-1]
				}
				p.Prompt = msgs
				break
			}
		}
		if p.Prompt, is = m.messagesCol(rr, "prompt", "user", "prompt"); is != nil {
			return nil, is
		}
	}
	if p.ScoreChosen, is = m.score(rr, "score_chosen"); is != nil {
		return nil, is
	}
	if p.ScoreRejected, is = m.score(rr, "score_rejected"); is != nil {
		return nil, is
	}
	if p.Margin, is = m.score(rr, "margin"); is != nil {
		return nil, is
	}
	return p, nil
}

// splitShared sets the prompt to the longest shared prefix of two full conversations that ends
// with a user turn, and the responses to the rest.
func (m *mapper) splitShared(rr rawRow, p *Pair, c, r []Message, col string) *Issue {
	k := commonPrefix(c, r)
	for k > 0 && c[k-1].Role != "user" {
		k--
	}
	if k == 0 {
		return m.rowIssue(rr, col, "no shared prompt prefix", fmt.Sprintf("chosen starts with a %s message and rejected with a %s one, and they share no user turn", firstRole(c), firstRole(r)))
	}
	p.Prompt, p.Chosen, p.Rejected = c[:k], c[k:], r[k:]
	return nil
}

func firstRole(ms []Message) string {
	if len(ms) == 0 {
		return "(no)"
	}
	return ms[0].Role
}

func commonPrefix(a, b []Message) int {
	k := 0
	for k < len(a) && k < len(b) && a[k] == b[k] {
		k++
	}
	return k
}

func sameMessages(a, b []Message) bool {
	return len(a) == len(b) && commonPrefix(a, b) == len(a)
}

func (m *mapper) ranked(rr rawRow) (*Ranked, *Issue) {
	out := &Ranked{ID: m.id(rr), Meta: m.meta(rr)}
	promptCol, listCol := "prompt", "responses"
	if m.layout == LayoutUltraFeedback {
		listCol = "completions"
		if _, ok := m.get(rr.fields, "instruction"); ok {
			promptCol = "instruction"
		}
	} else if _, ok := m.get(rr.fields, "prompt"); !ok {
		if _, ok := m.get(rr.fields, "instruction"); ok {
			promptCol = "instruction"
		}
	}
	var is *Issue
	if out.Prompt, is = m.messagesCol(rr, promptCol, "user", "prompt"); is != nil {
		return nil, is
	}
	col := m.src(listCol)
	v, ok := rr.fields[col]
	if !ok {
		return nil, m.rowIssue(rr, col, "missing column", "")
	}
	items, ok := asList(v)
	if !ok {
		return nil, m.rowIssue(rr, col, "mistyped column", "want a list of responses, got "+jsonTypeName(v))
	}
	for i, it := range items {
		obj, ok := it.(map[string]any)
		where := fmt.Sprintf("response %d", i+1)
		if !ok {
			return nil, m.rowIssue(rr, col, "mistyped column", where+": want an object, got "+jsonTypeName(it))
		}
		var resp Response
		found := false
		for _, k := range []string{"messages", "text", "content", "response", "output"} {
			x, ok := obj[k]
			if !ok {
				continue
			}
			found = true
			if x == nil {
				return nil, m.rowIssue(rr, col, "null response", where)
			}
			msgs, err := parseMessages(x, "assistant")
			if err != nil {
				err.File, err.Row, err.Line, err.Column = m.file, rr.row, rr.line, col
				err.Detail = strings.TrimPrefix(where+": "+err.Detail, ": ")
				return nil, err
			}
			resp.Messages = msgs
			break
		}
		if !found {
			return nil, m.rowIssue(rr, col, "missing column", where+": no text, content, response or messages field")
		}
		scored := false
		for _, k := range []string{"score", "rating", "fine-grained_score", "overall_score"} {
			x, ok := obj[k]
			if !ok {
				continue
			}
			f, ok := number(x)
			if !ok {
				return nil, m.rowIssue(rr, col, "bad score", fmt.Sprintf("%s: %s is %s, want a number", where, k, jsonTypeName(x)))
			}
			resp.Score, scored = f, true
			break
		}
		if !scored {
			return nil, m.rowIssue(rr, col, "bad score", where+": no score, rating, fine-grained_score or overall_score")
		}
		resp.Model, _ = obj["model"].(string)
		out.Responses = append(out.Responses, resp)
	}
	if len(out.Responses) < 2 {
		return nil, m.rowIssue(rr, col, "too few responses", fmt.Sprintf("%d, want at least 2", len(out.Responses)))
	}
	return out, nil
}

func (m *mapper) unpaired(rr rawRow) (*Unpaired, *Issue) {
	u := &Unpaired{ID: m.id(rr), Meta: m.meta(rr)}
	var is *Issue
	if m.layout == LayoutUnpairedMessages {
		msgs, is := m.messagesCol(rr, "messages", "user", "prompt")
		if is != nil {
			return nil, is
		}
		n := len(msgs)
		if n < 2 || msgs[n-1].Role != "assistant" {
			return nil, m.rowIssue(rr, m.src("messages"), "role sequence", "the messages must end with the assistant's completion")
		}
		u.Prompt, u.Completion = msgs[:n-1], msgs[n-1:]
	} else {
		if u.Prompt, is = m.messagesCol(rr, "prompt", "user", "prompt"); is != nil {
			return nil, is
		}
		if u.Completion, is = m.messagesCol(rr, "completion", "assistant", "response"); is != nil {
			return nil, is
		}
	}
	lv, _ := m.get(rr.fields, "label")
	switch x := lv.(type) {
	case bool:
		u.Label = x
	case float64, int64:
		f, _ := number(x)
		if f != 0 && f != 1 {
			return nil, m.rowIssue(rr, m.src("label"), "bad label", fmt.Sprintf("%v, want true/false or 1/0", f))
		}
		u.Label = f == 1
	case string:
		b, err := strconv.ParseBool(x)
		if err != nil {
			return nil, m.rowIssue(rr, m.src("label"), "bad label", fmt.Sprintf("%q, want true/false", x))
		}
		u.Label = b
	default:
		return nil, m.rowIssue(rr, m.src("label"), "bad label", "got "+jsonTypeName(lv))
	}
	return u, nil
}

// parseMessages reads a string (one message of defaultRole), one {role, content} or
// {from, value} object, or a list of them. Content may be a string or a list of parts
// ({type, text} or {type, value}), which are joined.
func parseMessages(v any, defaultRole string) ([]Message, *Issue) {
	switch x := v.(type) {
	case string:
		return []Message{{Role: defaultRole, Content: x}}, nil
	case []Message:
		return x, nil // the fast Parquet path's messages, already checked and normalized
	case map[string]any:
		msg, err := parseMessage(x, 0)
		if err != nil {
			return nil, err
		}
		return []Message{msg}, nil
	case []any, *[]any:
		items, _ := asList(x)
		out := make([]Message, 0, len(items))
		for i, it := range items {
			obj, ok := it.(map[string]any)
			if !ok {
				return nil, &Issue{Reason: "mistyped column", Detail: fmt.Sprintf("message %d: want a {role, content} object, got %s", i+1, jsonTypeName(it))}
			}
			msg, err := parseMessage(obj, i)
			if err != nil {
				return nil, err
			}
			out = append(out, msg)
		}
		return out, nil
	}
	return nil, &Issue{Reason: "mistyped column", Detail: "want a string or a list of {role, content} messages, got " + jsonTypeName(v)}
}

func parseMessage(obj map[string]any, i int) (Message, *Issue) {
	roleV, ok := obj["role"]
	if !ok {
		roleV, ok = obj["from"]
	}
	contentV, cok := obj["content"]
	if !cok {
		contentV, cok = obj["value"]
	}
	if !ok || !cok {
		return Message{}, &Issue{Reason: "mistyped column", Detail: fmt.Sprintf("message %d: want {role, content} or {from, value}, got keys %s", i+1, columnList(obj))}
	}
	role, ok := roleV.(string)
	if !ok {
		return Message{}, &Issue{Reason: "mistyped column", Detail: fmt.Sprintf("message %d: role is %s, want a string", i+1, jsonTypeName(roleV))}
	}
	norm, ok := normalizeRole(role)
	if !ok {
		return Message{}, &Issue{Reason: "unknown role", Detail: fmt.Sprintf("message %d: %q (want system, user or assistant; human and gpt are read as user and assistant)", i+1, role)}
	}
	var content string
	switch c := contentV.(type) {
	case string:
		content = c
	case nil:
		return Message{}, &Issue{Reason: "null content", Detail: fmt.Sprintf("message %d", i+1)}
	case []any, *[]any:
		parts, _ := asList(c)
		var b strings.Builder
		for k, p := range parts {
			po, _ := p.(map[string]any)
			t, ok := po["text"].(string)
			if !ok {
				t, ok = po["value"].(string)
			}
			if !ok {
				return Message{}, &Issue{Reason: "mistyped column", Detail: fmt.Sprintf("message %d part %d: want {type, text} or {type, value}", i+1, k+1)}
			}
			b.WriteString(t)
		}
		content = b.String()
	default:
		return Message{}, &Issue{Reason: "mistyped column", Detail: fmt.Sprintf("message %d: content is %s, want a string", i+1, jsonTypeName(contentV))}
	}
	return Message{Role: norm, Content: content}, nil
}

func normalizeRole(r string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(r)) {
	case "user", "human":
		return "user", true
	case "assistant", "gpt", "bot", "model", "chatgpt":
		return "assistant", true
	case "system":
		return "system", true
	}
	return "", false
}

// splitHH splits an Anthropic HH transcript ("\n\nHuman: …\n\nAssistant: …") into messages. It
// reports false when the text does not start with a Human turn.
func splitHH(t string) ([]Message, bool) {
	const human, assistant = "\n\nHuman:", "\n\nAssistant:"
	if !strings.HasPrefix(t, human) {
		s := strings.TrimLeft(t, " \n")
		if !strings.HasPrefix(s, "Human:") {
			return nil, false
		}
		t = human + s[len("Human:"):]
	}
	var out []Message
	for len(t) > 0 {
		var role string
		switch {
		case strings.HasPrefix(t, human):
			role, t = "user", t[len(human):]
		case strings.HasPrefix(t, assistant):
			role, t = "assistant", t[len(assistant):]
		}
		end := len(t)
		if i := strings.Index(t, "\n\n"); i >= 0 {
			// The turn ends at the next marker; a "\n\n" that starts no marker is part of it.
			end = -1
			for j := i; j >= 0 && j < len(t); {
				if strings.HasPrefix(t[j:], human) || strings.HasPrefix(t[j:], assistant) {
					end = j
					break
				}
				k := strings.Index(t[j+2:], "\n\n")
				if k < 0 {
					break
				}
				j += 2 + k
			}
			if end < 0 {
				end = len(t)
			}
		}
		out = append(out, Message{Role: role, Content: strings.TrimSpace(t[:end])})
		t = t[end:]
	}
	return out, true
}
