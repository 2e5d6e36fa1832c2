package train

import (
	"fmt"
	"math"
)

// Schedule is a learning-rate schedule with Hugging Face get_scheduler semantics: the factor
// applied to the peak rate before optimizer step k (0-based) of Total, after Warmup linear
// warm-up steps.
type Schedule struct {
	Type   string // constant, constant_with_warmup, linear, cosine
	Peak   float64
	Warmup int
	Total  int
}

// NewSchedule builds a schedule; warm-up steps are ceil(warmupRatio·total), as TRL's
// TrainingArguments.get_warmup_steps computes them.
func NewSchedule(typ string, peak, warmupRatio float64, total int) (Schedule, error) {
	switch typ {
	case "constant", "constant_with_warmup", "linear", "cosine":
	default:
		return Schedule{}, fmt.Errorf("train: unknown lr_scheduler_type %q", typ)
	}
	w := int(math.Ceil(warmupRatio * float64(total)))
	if typ == "constant" {
		w = 0 // HF's "constant" ignores warm-up
	}
	return Schedule{Type: typ, Peak: peak, Warmup: w, Total: total}, nil
}

// LR returns the learning rate for optimizer step k (0-based). Like HF's LambdaLR, step 0 of a
// warm-up runs at rate 0.
func (s Schedule) LR(k int) float64 {
	return s.Peak * s.factor(k)
}

func (s Schedule) factor(k int) float64 {
	if s.Type == "constant" {
		return 1
	}
	if k < s.Warmup {
		return float64(k) / float64(max(1, s.Warmup))
	}
	switch s.Type {
	case "linear":
		// transformers.get_linear_schedule_with_warmup
		return max(0, float64(s.Total-k)/float64(max(1, s.Total-s.Warmup)))
	case "cosine":
		// transformers.get_cosine_schedule_with_warmup, num_cycles = 0.5
		p := float64(k-s.Warmup) / float64(max(1, s.Total-s.Warmup))
		return max(0, 0.5*(1+math.Cos(math.Pi*2*0.5*p)))
	}
	return 1 // constant_with_warmup
}
