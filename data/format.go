package data

// Kind is the shape of a dataset's records.
type Kind string

// The record shapes.
const (
	KindPairwise Kind = "pairwise" // Pair records
	KindRanked   Kind = "ranked"   // Ranked records
	KindUnpaired Kind = "unpaired" // Unpaired records
)

// Container is the file format, below the record layout.
type Container string

// The file formats read and written.
const (
	ContainerParquet Container = "parquet"
	ContainerJSONL   Container = "jsonl"
	ContainerJSON    Container = "json" // one JSON array of objects
)

// Layout names the column convention detected in a file. See docs/data.md for the rules.
type Layout string

// The layouts that Open detects.
const (
	// LayoutPromptStrings: prompt, chosen and rejected as strings (xstest_refusal_pairs, plain).
	LayoutPromptStrings Layout = "prompt-chosen-rejected"
	// LayoutExplicitConversational: prompt, chosen and rejected as message lists, the responses
	// without the prompt (TRL's conversational format with an explicit prompt; align's JSONL).
	LayoutExplicitConversational Layout = "conversational-explicit-prompt"
	// LayoutImplicitConversational: chosen and rejected as message lists that hold the prompt
	// too; the prompt is their shared prefix (TRL's implicit-prompt format,
	// ultrafeedback_binarized, align's Parquet).
	LayoutImplicitConversational Layout = "conversational-implicit-prompt"
	// LayoutHH: chosen and rejected as Anthropic HH transcripts "\n\nHuman: …\n\nAssistant: …".
	LayoutHH Layout = "hh-transcript"
	// LayoutShareGPT: LLaMA-Factory's ShareGPT preference format: conversations [{from,
	// value}], chosen {from, value}, rejected {from, value}.
	LayoutShareGPT Layout = "sharegpt"
	// LayoutMessagesV1: LLaMA-Factory v1 chosen_messages / rejected_messages with content parts.
	LayoutMessagesV1 Layout = "llamafactory-v1-messages"
	// LayoutRankedResponses: prompt plus responses [{text|content, score, model}] (vicuna80_ranked).
	LayoutRankedResponses Layout = "ranked-responses"
	// LayoutUltraFeedback: instruction plus completions [{response, fine-grained_score|overall_score, model}].
	LayoutUltraFeedback Layout = "ultrafeedback-completions"
	// LayoutUnpairedMessages: messages ending with the completion, plus a boolean label (KTO).
	LayoutUnpairedMessages Layout = "unpaired-messages"
	// LayoutUnpaired: prompt, completion and label (TRL's unpaired format).
	LayoutUnpaired Layout = "unpaired-prompt-completion"
)

// Format is what Open detected: the container, whether it was gzip-compressed, and the layout.
type Format struct {
	Container Container `json:"container"`
	Gzip      bool      `json:"gzip,omitempty"`
	Layout    Layout    `json:"layout"`
}

func (f Format) String() string {
	s := string(f.Container)
	if f.Gzip {
		s += ".gz"
	}
	return s + " (" + string(f.Layout) + ")"
}
