package model
import ("testing";"math/rand/v2")
func BenchmarkZZStories(b *testing.B){
 m,_:=Load(storiesPath,LoadOptions{LoRA:&LoRAConfig{Rank:16,Alpha:32}})
 rng:=rand.New(rand.NewPCG(1,1)); seq:=Sequence{Tokens:make([]int32,512),Mask:make([]bool,512)}
 for i:=range seq.Tokens{seq.Tokens[i]=int32(rng.IntN(512)); seq.Mask[i]=i>0}
 g:=[][]float32{make([]float32,511)}
 for i:=0;i<b.N;i++{ p,_:=m.Forward([]Sequence{seq}); p.Backward(g) }
}
