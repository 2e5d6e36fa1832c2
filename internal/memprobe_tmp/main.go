package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/alignkit/align/kernels"
	"github.com/alignkit/align/model"
)

func main() {
	cfg := model.Config{Arch: "qwen2", Layers: 4, Dim: 896, FFN: 4864, Heads: 14, KVHeads: 2, Vocab: 151936, Tied: true,
		QKVBias: true, RopeNeoX: true, RopeTheta: 1e6, Eps: 1e-6}
	m, err := model.NewRandom(cfg, 1, model.LoadOptions{RandomType: kernels.TypeQ4_K, LowMemory: true, Recompute: true,
		LoRA: &model.LoRAConfig{Rank: 16, Alpha: 32, Seed: 1}})
	if err != nil {
		panic(err)
	}
	T := 512
	seq := model.Sequence{Tokens: make([]int32, T), Mask: make([]bool, T)}
	for i := range seq.Tokens {
		seq.Tokens[i] = int32(i * 97 % cfg.Vocab)
		seq.Mask[i] = i > 0
	}
	g := [][]float32{make([]float32, T-1)}
	for i := range g[0] {
		g[0][i] = 1
	}
	step := func() {
		p, err := m.Forward([]model.Sequence{seq})
		if err != nil {
			panic(err)
		}
		if err := p.Backward(g); err != nil {
			panic(err)
		}
	}
	step()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("after warm step: live heap %d MB, weights %d MB\n", ms.HeapAlloc>>20, m.WeightBytes()>>20)
	runtime.MemProfileRate = 64 << 10
	step()
	f, _ := os.Create(os.Args[1])
	pprof.Lookup("allocs").WriteTo(f, 0)
	f.Close()
}
