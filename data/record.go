package data

// Message is one chat turn, in the Hugging Face `{role, content}` convention. Role is one of
// "system", "user" or "assistant".
type Message struct {
	Role    string `json:"role" parquet:"role"`
	Content string `json:"content" parquet:"content"`
}

// Pair is a pairwise preference record: a prompt (every message before the responses, system
// included) and two responses, the preferred one first. Chosen and Rejected usually hold one
// assistant turn.
type Pair struct {
	// ID identifies the record in its source (a column value, or "row N").
	ID       string
	Prompt   []Message
	Chosen   []Message
	Rejected []Message
	// ScoreChosen and ScoreRejected are optional scores (nil when the source has none).
	ScoreChosen   *float64
	ScoreRejected *float64
	// Margin is the optional `margin` column (TRL RewardTrainer's): how much the chosen
	// response's reward should exceed the rejected one's; nil when the source has none.
	Margin *float64
	// Meta holds the source's other scalar columns (xstest's type and label, a category, the
	// models that wrote each response), keyed by column name; nil when there are none.
	Meta map[string]string
}

// Response is one scored response of a Ranked record.
type Response struct {
	Messages []Message
	Score    float64
	// Model names the response's generator, when the source says.
	Model string
}

// Ranked is a prompt with N scored responses (UltraFeedback, vicuna80_ranked, curation output).
type Ranked struct {
	ID        string
	Prompt    []Message
	Responses []Response
	// Meta holds the source's other scalar columns (e.g. category), as for Pair.
	Meta map[string]string
}

// Unpaired is a prompt, one completion and a binary label (KTO-style data).
type Unpaired struct {
	ID         string
	Prompt     []Message
	Completion []Message
	Label      bool
	// Meta holds the source's other scalar columns, as for Pair.
	Meta map[string]string
}
