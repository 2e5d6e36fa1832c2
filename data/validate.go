package data

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// check validates a mapped record: empty prompt or responses, identical responses, the role
// sequence and the row's size. It returns the first problem. (UTF-8 is checked earlier, on the
// raw JSON bytes or on each Parquet string, where the column is known.)
func (m *mapper) check(rr rawRow, rec Record) *Issue {
	issue := func(col, reason, detail string) *Issue { return m.rowIssue(rr, col, reason, detail) }
	promptCol := m.promptColumn()
	total := 0
	size := func(ms []Message) {
		for _, x := range ms {
			total += len(x.Content)
		}
	}
	switch rec.Kind {
	case KindPairwise:
		p := rec.Pair
		chosenCol, rejectedCol := m.responseColumns()
		if is := checkMessages(p.Prompt, "prompt"); is != "" {
			return issue(promptCol, is, "")
		}
		if is := checkMessages(p.Chosen, "response"); is != "" {
			return issue(chosenCol, is, "")
		}
		if is := checkMessages(p.Rejected, "response"); is != "" {
			return issue(rejectedCol, is, "")
		}
		if sameMessages(p.Chosen, p.Rejected) {
			return issue(rejectedCol, "chosen identical to rejected", "")
		}
		if !m.opt.NoRoleCheck {
			if col, d := roleProblem(p.Prompt, p.Chosen, promptCol, chosenCol); d != "" {
				return issue(col, "role sequence", d)
			}
			if col, d := roleProblem(p.Prompt, p.Rejected, promptCol, rejectedCol); d != "" {
				return issue(col, "role sequence", d)
			}
		}
		size(p.Prompt)
		size(p.Chosen)
		size(p.Rejected)
	case KindRanked:
		r := rec.Ranked
		col := m.src("responses")
		if m.layout == LayoutUltraFeedback {
			col = m.src("completions")
		}
		if is := checkMessages(r.Prompt, "prompt"); is != "" {
			return issue(promptCol, is, "")
		}
		size(r.Prompt)
		for i, resp := range r.Responses {
			where := fmt.Sprintf("response %d", i+1)
			if is := checkMessages(resp.Messages, "response"); is != "" {
				return issue(col, is, where)
			}
			if !m.opt.NoRoleCheck {
				if _, d := roleProblem(r.Prompt, resp.Messages, promptCol, col); d != "" {
					return issue(col, "role sequence", where+": "+d)
				}
			}
			size(resp.Messages)
		}
	case KindUnpaired:
		u := rec.Unpaired
		compCol := m.src("completion")
		if m.layout == LayoutUnpairedMessages {
			compCol = m.src("messages")
		}
		if is := checkMessages(u.Prompt, "prompt"); is != "" {
			return issue(promptCol, is, "")
		}
		if is := checkMessages(u.Completion, "response"); is != "" {
			return issue(compCol, is, "")
		}
		if !m.opt.NoRoleCheck {
			if col, d := roleProblem(u.Prompt, u.Completion, promptCol, compCol); d != "" {
				return issue(col, "role sequence", d)
			}
		}
		size(u.Prompt)
		size(u.Completion)
	}
	if limit := m.opt.maxRowBytes(); total > limit {
		return issue("", "huge row", fmt.Sprintf("%d bytes of text, over the %d-byte limit (MaxRowBytes, --max-row-bytes)", total, limit))
	}
	return nil
}

func (m *mapper) promptColumn() string {
	switch m.layout {
	case LayoutShareGPT:
		return m.src("conversations")
	case LayoutMessagesV1:
		return m.src("chosen_messages")
	case LayoutImplicitConversational:
		return m.src("chosen")
	case LayoutHH:
		return m.src("chosen")
	case LayoutUnpairedMessages:
		return m.src("messages")
	case LayoutUltraFeedback:
		return m.src("instruction")
	}
	return m.src("prompt")
}

func (m *mapper) responseColumns() (string, string) {
	if m.layout == LayoutMessagesV1 {
		return m.src("chosen_messages"), m.src("rejected_messages")
	}
	return m.src("chosen"), m.src("rejected")
}

// checkMessages reports "empty prompt"/"empty response" for no messages or a blank message.
func checkMessages(ms []Message, what string) string {
	if len(ms) == 0 {
		return "empty " + what
	}
	for _, x := range ms {
		if strings.TrimSpace(x.Content) == "" {
			return "empty " + what
		}
	}
	return ""
}

func invalidUTF8(ms []Message) string {
	for i, x := range ms {
		if !utf8.ValidString(x.Content) {
			return fmt.Sprintf("message %d byte %d", i+1, firstInvalidUTF8([]byte(x.Content)))
		}
		if !utf8.ValidString(x.Role) {
			return fmt.Sprintf("message %d role", i+1)
		}
	}
	return ""
}

// roleProblem checks that prompt+response reads [system] user assistant user … assistant: an
// optional system message first, then user and assistant turns alternating, the prompt ending
// with a user turn and the response made of assistant turns (alternating with user turns when
// it has several). It returns the column at fault and a description, or "" when all is well.
func roleProblem(prompt, response []Message, promptCol, responseCol string) (string, string) {
	n := len(prompt) + len(response)
	role := func(i int) string {
		if i < len(prompt) {
			return prompt[i].Role
		}
		return response[i-len(prompt)].Role
	}
	// The pattern is built only for a message, keeping the common case allocation-free.
	pattern := func() string {
		all := make([]string, n)
		for i := range all {
			all[i] = role(i)
		}
		return strings.Join(all, ",")
	}
	col := func(i int) string {
		if i < len(prompt) {
			return promptCol
		}
		return responseCol
	}
	i := 0
	if n > 0 && role(0) == "system" {
		i = 1
	}
	want := "user"
	for j := i; j < n; j++ {
		if r := role(j); r != want {
			return col(j), fmt.Sprintf("%s: message %d is %s, want %s", pattern(), j+1, r, want)
		}
		if want == "user" {
			want = "assistant"
		} else {
			want = "user"
		}
	}
	if len(prompt) > 0 && prompt[len(prompt)-1].Role != "user" {
		return promptCol, fmt.Sprintf("%s: the prompt must end with a user turn", pattern())
	}
	if len(response) > 0 && response[len(response)-1].Role != "assistant" {
		return responseCol, fmt.Sprintf("%s: the response must end with an assistant turn", pattern())
	}
	return "", ""
}
