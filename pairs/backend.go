package pairs

import (
	"context"

	"github.com/alignkit/align/runtime"
)

// Backend is what the pipelines ask of the model runtime. PoolBackend serves it from a
// runtime.Pool (one or more Ollama hosts); tests use fakes.
type Backend interface {
	// Generate samples one response.
	Generate(ctx context.Context, req runtime.GenerateRequest) (runtime.GenerateResult, error)
	// JudgeSingle grades or classifies one response with a single-answer template.
	JudgeSingle(ctx context.Context, req runtime.SingleRequest) (runtime.Game, error)
	// JudgePair compares two responses with a pairwise template, in both orders unless NoSwap.
	JudgePair(ctx context.Context, req runtime.JudgeRequest) (runtime.Judgment, error)
	// Capacity is how many requests may be in flight at once.
	Capacity() int
}

// PoolBackend is the Backend of a runtime.Pool.
type PoolBackend struct{ Pool *runtime.Pool }

// Generate implements Backend.
func (b PoolBackend) Generate(ctx context.Context, req runtime.GenerateRequest) (runtime.GenerateResult, error) {
	return b.Pool.Generate(ctx, req)
}

// JudgeSingle implements Backend.
func (b PoolBackend) JudgeSingle(ctx context.Context, req runtime.SingleRequest) (runtime.Game, error) {
	return runtime.JudgeSingle(ctx, b.Pool, req)
}

// JudgePair implements Backend.
func (b PoolBackend) JudgePair(ctx context.Context, req runtime.JudgeRequest) (runtime.Judgment, error) {
	return runtime.JudgePair(ctx, b.Pool, req)
}

// Capacity implements Backend.
func (b PoolBackend) Capacity() int { return b.Pool.Capacity() }
