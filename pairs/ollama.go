package pairs

import (
	"context"
	"fmt"
	"strings"

	"github.com/alignkit/align/runtime"
)

// OllamaSampler samples a model served by Ollama with a runtime.SampleJob: resumable (it asks
// only for what Out lacks) and spread over the pool's hosts. Seed must be the base seed the
// plan was made with (Plan), so that each sample's seed is the planned one.
type OllamaSampler struct {
	Pool    *runtime.Pool
	Model   string
	Seed    int64
	Options runtime.Options
	// Raw sends the prompt's turns joined by newlines with no template (a raw-completion
	// model); otherwise the messages go to /api/chat.
	Raw bool
	// Out is the SampleJob's results file.
	Out string
}

// Sample implements Sampler.
func (s OllamaSampler) Sample(ctx context.Context, todo []Planned, done func(i int, texts []string) error) error {
	if len(todo) == 0 {
		return nil
	}
	k := len(todo[0].Seeds)
	job := runtime.SampleJob{Model: s.Model, K: k, Seed: s.Seed, Raw: s.Raw, Out: s.Out, Options: s.Options}
	at := map[string]int{}
	for i, p := range todo {
		if len(p.Seeds) != k {
			return fmt.Errorf("pairs: prompt %s plans %d samples, others %d", p.ID, len(p.Seeds), k)
		}
		at[p.ID] = i
		rp := runtime.Prompt{ID: p.ID}
		if s.Raw {
			parts := make([]string, len(p.Messages))
			for j, m := range p.Messages {
				parts[j] = m.Content
			}
			rp.Prompt = strings.Join(parts, "\n")
		} else {
			for _, m := range p.Messages {
				rp.Messages = append(rp.Messages, runtime.Message{Role: m.Role, Content: m.Content})
			}
		}
		job.Prompts = append(job.Prompts, rp)
	}
	sum, err := job.Run(ctx, s.Pool, nil)
	if err != nil {
		return fmt.Errorf("pairs: sample %s through Ollama: %w", s.Model, err)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("pairs: sample %s through Ollama: %d requests failed (%v); run again to retry only those", s.Model, sum.Failed, sum.Errors)
	}
	got, err := runtime.ReadSamples(s.Out)
	if err != nil {
		return fmt.Errorf("pairs: %w", err)
	}
	texts := make([][]string, len(todo))
	for i := range texts {
		texts[i] = make([]string, k)
	}
	seen := make([]int, len(todo))
	for _, r := range got {
		i, ok := at[r.PromptID]
		if !ok || r.Sample < 0 || r.Sample >= k {
			continue
		}
		if r.Seed != todo[i].Seeds[r.Sample] {
			return fmt.Errorf("pairs: %s: prompt %s sample %d has seed %d, the plan says %d (a results file of another run?)", s.Out, r.PromptID, r.Sample, r.Seed, todo[i].Seeds[r.Sample])
		}
		texts[i][r.Sample] = r.Response
		seen[i]++
	}
	for i, p := range todo {
		if seen[i] < k {
			return fmt.Errorf("pairs: %s holds %d of prompt %s's %d samples", s.Out, seen[i], p.ID, k)
		}
		if err := done(i, texts[i]); err != nil {
			return err
		}
	}
	return nil
}
