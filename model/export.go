package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// tensorWriter encodes float32 data as a ggml type when fs/ggml's WriteGGUF asks for it. The
// data is one or more pieces written back to back (a fused tensor's parts, each a whole number of
// rows, so that the encoding of the pieces is the encoding of their concatenation), and it is
// encoded chunk by chunk into one bounded buffer: a file of billions of parameters is written
// without a second copy of its weights, encoded or fused (WriteGGUF runs GOMAXPROCS writers at
// once).
type tensorWriter struct {
	data [][]float32
	typ  kernels.GGMLType
	raw  []byte // copied verbatim when not nil
}

// f32Tensor is the writer of data (one or more pieces, in row order) encoded as typ.
func f32Tensor(typ kernels.GGMLType, data ...[]float32) tensorWriter {
	return tensorWriter{data: data, typ: typ}
}

// encodeChunk is the number of values tensorWriter encodes at a time: a multiple of every
// block size it writes (32 for Q8_0, 256 for Q4_K).
const encodeChunk = 1 << 18

func (t tensorWriter) WriteTo(w io.Writer) (int64, error) {
	if t.raw != nil {
		n, err := w.Write(t.raw)
		return int64(n), err
	}
	if !encodable(t.typ) {
		return 0, fmt.Errorf("cannot encode %s", t.typ)
	}
	elems, bytes := kernels.BlockSize(t.typ)
	var buf []byte
	var total int64
	for _, piece := range t.data {
		for off := 0; off < len(piece); off += encodeChunk {
			src := piece[off:min(off+encodeChunk, len(piece))]
			size := len(src) / elems * bytes
			if cap(buf) < size {
				buf = make([]byte, size)
			}
			if err := encodeValues(t.typ, buf[:size], src); err != nil {
				return total, err
			}
			n, err := w.Write(buf[:size])
			total += int64(n)
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// encoders are the encodings align writes (F32, F16, BF16, Q8_0 and Q4_K): each encodes src
// into dst, len(src)/elems·bytes of kernels.BlockSize.
var encoders = map[kernels.GGMLType]func(dst []byte, src []float32) error{
	kernels.TypeF32: func(dst []byte, src []float32) error {
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
		return nil
	},
	kernels.TypeF16:  func(dst []byte, src []float32) error { kernels.QuantizeF16(dst, src); return nil },
	kernels.TypeBF16: func(dst []byte, src []float32) error { kernels.QuantizeBF16(dst, src); return nil },
	kernels.TypeQ8_0: kernels.QuantizeQ8_0,
	kernels.TypeQ4_K: kernels.QuantizeQ4K,
}

// encodable reports whether encodeValues writes typ.
func encodable(typ kernels.GGMLType) bool { return encoders[typ] != nil }

// encodeValues encodes src as typ into dst (encoders).
func encodeValues(typ kernels.GGMLType, dst []byte, src []float32) error {
	enc := encoders[typ]
	if enc == nil {
		return fmt.Errorf("cannot encode %s", typ)
	}
	return enc(dst, src)
}

// writeGGUF runs fs/ggml's WriteGGUF, which needs a seekable *os.File, onto any writer.
func writeGGUF(w io.Writer, kv ggml.KV, ts []*ggml.Tensor) error {
	if f, ok := w.(*os.File); ok {
		if _, err := f.Seek(0, io.SeekCurrent); err == nil {
			return ggml.WriteGGUF(f, kv, ts)
		}
	}
	tmp, err := os.CreateTemp("", "align-*.gguf")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := ggml.WriteGGUF(tmp, kv, ts); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(w, tmp)
	return err
}

// fileTypeOf maps the export type to general.file_type (llama_ftype).
func fileTypeOf(typ kernels.GGMLType) uint32 {
	switch typ {
	case kernels.TypeF16:
		return 1
	case kernels.TypeQ8_0:
		return 7
	case kernels.TypeQ4_K:
		return 15 // MOSTLY_Q4_K_M, the label of llama.cpp's usual Q4_K file
	}
	return 0
}

// matrixType is the type a random-weight generator writes a matrix of rows of cols values as,
// for the file's type typ: typ when its blocks divide the row, else Q8_0 (a quantized typ
// whose blocks do not divide it, e.g. Q4_K's 256 against a 640-wide row), else last (F16 or
// F32). llama.cpp's quantizer falls back in the same way to a 32-value type (for Q4_K it
// takes Q5_0, which align cannot encode; Q8_0 is the nearest it can).
func matrixType(typ kernels.GGMLType, cols int, last kernels.GGMLType) kernels.GGMLType {
	if typ == kernels.TypeF32 || typ == kernels.TypeF16 {
		return typ
	}
	for _, t := range []kernels.GGMLType{typ, kernels.TypeQ8_0} {
		if elems, _ := kernels.BlockSize(t); elems > 0 && cols%elems == 0 {
			return t
		}
	}
	return last
}

// mergedWeight returns W + scale·B·A for a linear with LoRA, else W itself.
func (m *Model) mergedWeight(l *linear) []float32 {
	if l.lora == nil {
		return l.weightF32()
	}
	w := slices.Clone(l.weightF32())
	sgemm(m.threads, false, false, l.out, l.in, l.lora.rank, l.lora.scale, l.lora.b.Data, l.lora.rank, l.lora.a.Data, l.in, 1, w, l.in)
	return w
}

// WriteMergedGGUF writes the model with its LoRA folded into the weights (and any Full-mode
// training) as a GGUF of type F32, F16 or Q8_0. Every original metadata key is kept
// (general.file_type is updated). 1-D tensors (norms, biases) stay F32; a matrix whose rows are
// not a multiple of 32 falls back from Q8_0 to F16. Tensors the engine does not use are copied
// verbatim.
func (m *Model) WriteMergedGGUF(w io.Writer, typ kernels.GGMLType) error {
	if err := m.writeMerged(w, typ, nil, nil); err != nil {
		return fmt.Errorf("model: write merged GGUF: %w", err)
	}
	return nil
}

// writeMerged writes the merged model plus the extra metadata keys and tensors (a reward head).
func (m *Model) writeMerged(w io.Writer, typ kernels.GGMLType, extraKV ggml.KV, extra []*ggml.Tensor) error {
	if m.kv == nil {
		return errors.New("model has no GGUF metadata (built with NewRandom)")
	}
	if typ != kernels.TypeF32 && typ != kernels.TypeF16 && typ != kernels.TypeQ8_0 {
		return fmt.Errorf("export type %s not supported (F32, F16, Q8_0)", typ)
	}
	kv := ggml.KV{}
	for k, v := range m.kv {
		kv[k] = widenKV(v)
	}
	kv["general.file_type"] = fileTypeOf(typ)
	data := map[string][]float32{} // by Param name: a fused tensor's parts under their own
	for _, b := range m.bindings() {
		if *b.slot != nil {
			data[(*b.slot).Name] = m.denseData(*b.slot)
		}
	}
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			data[l.w.Name] = m.mergedWeight(l)
		}
	}
	fused := joinFused(m.bindings(), data) // phi3: attn_qkv, ffn_up from their parts
	var f *os.File
	var src *ggml.GGML // the source's header, decoded once
	var ts []*ggml.Tensor
	for _, ti := range m.tensors {
		t := &ggml.Tensor{Name: ti.name, Shape: slices.Clone(ti.shape)}
		d, ok := fused[ti.name]
		if !ok {
			d, ok = [][]float32{data[ti.name]}, data[ti.name] != nil
		}
		if !ok { // not used by the engine: copy the original bytes
			if f == nil {
				var err error
				if f, err = os.Open(m.path); err != nil {
					return err
				}
				defer f.Close()
				if src, err = ggml.Decode(f, 0); err != nil {
					return fmt.Errorf("model: export: reread %s: %w", m.path, err)
				}
			}
			raw, err := m.rawTensor(f, src, ti)
			if err != nil {
				return err
			}
			t.Kind, t.WriterTo = ti.kind, tensorWriter{raw: raw}
			ts = append(ts, t)
			continue
		}
		tt := typ
		if len(ti.shape) < 2 {
			tt = kernels.TypeF32
		} else if tt == kernels.TypeQ8_0 && ti.shape[0]%32 != 0 {
			tt = kernels.TypeF16
		}
		t.Kind, t.WriterTo = uint32(tt), f32Tensor(tt, d...)
		ts = append(ts, t)
	}
	maps.Copy(kv, extraKV)
	return writeGGUF(w, kv, append(ts, extra...))
}

// rawTensor rereads one tensor's bytes from the source GGUF f, whose header is g.
func (m *Model) rawTensor(f *os.File, g *ggml.GGML, ti tensorInfo) ([]byte, error) {
	for _, t := range g.Tensors().Items() {
		if t.Name == ti.name {
			raw := make([]byte, t.Size())
			if _, err := f.ReadAt(raw, int64(g.Tensors().Offset+t.Offset)); err != nil {
				return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
			}
			return raw, nil
		}
	}
	return nil, fmt.Errorf("tensor %s not found in %s", ti.name, m.path)
}

// widenKV converts scalar metadata types that fs/ggml's writer lacks to the nearest it has.
func widenKV(v any) any {
	switch x := v.(type) {
	case uint8:
		return uint32(x)
	case uint16:
		return uint32(x)
	case int8:
		return int32(x)
	case int16:
		return int32(x)
	case float64:
		return float32(x)
	}
	return v
}

// loraLinears lists the adapted projections in block order.
func (m *Model) loraLinears() []*linear {
	var ls []*linear
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			if l.lora != nil {
				ls = append(ls, l)
			}
		}
	}
	return ls
}

// WriteAdapterGGUF writes the LoRA adapters in llama.cpp's adapter format: general.type=adapter,
// adapter.type=lora, adapter.lora.alpha, and per target "<weight>.lora_a" (ggml shape [n_in, r])
// and "<weight>.lora_b" ([r, n_out]) in F32. llama.cpp scales B·A by alpha/r.
func (m *Model) WriteAdapterGGUF(w io.Writer) error {
	ls := m.loraLinears()
	if len(ls) == 0 {
		return errors.New("model: write adapter GGUF: the model has no LoRA adapters")
	}
	lc := m.opt.LoRA
	kv := ggml.KV{
		"general.architecture": m.cfg.Arch,
		"general.type":         "adapter",
		"adapter.type":         "lora",
		"adapter.lora.alpha":   ls[0].lora.scale * float32(lc.Rank),
	}
	if m.kv != nil {
		if n := m.kv.String("general.name"); n != "" {
			kv["general.name"] = n
		}
	}
	var ts []*ggml.Tensor
	if spec, _ := archTraits(m.cfg.Arch); spec.fused {
		ts = m.fusedAdapterTensors()
		ls = nil
	}
	for _, l := range ls {
		a, b := l.lora.a, l.lora.b
		ts = append(ts,
			&ggml.Tensor{Name: a.Name, Kind: uint32(kernels.TypeF32), Shape: []uint64{uint64(l.in), uint64(l.lora.rank)}, WriterTo: f32Tensor(kernels.TypeF32, a.Data)},
			&ggml.Tensor{Name: b.Name, Kind: uint32(kernels.TypeF32), Shape: []uint64{uint64(l.lora.rank), uint64(l.out)}, WriterTo: f32Tensor(kernels.TypeF32, b.Data)},
		)
	}
	if err := writeGGUF(w, kv, ts); err != nil {
		return fmt.Errorf("model: write adapter GGUF: %w", err)
	}
	return nil
}

// hfModule names a target the Hugging Face way.
func hfModule(target string) string {
	switch target {
	case "q", "k", "v", "o":
		return "self_attn." + target + "_proj"
	}
	return "mlp." + target + "_proj"
}

// unpermuteRows undoes llama.cpp's convert_hf_to_gguf Q/K row permutation for a matrix with
// rows = heads·headDim: GGUF row h·hd + 2i + j holds HF row h·hd + j·hd/2 + i.
func unpermuteRows(src []float32, heads, hd, cols int) []float32 {
	dst := make([]float32, len(src))
	for h := 0; h < heads; h++ {
		for i := 0; i < hd/2; i++ {
			for j := 0; j < 2; j++ {
				g, f := h*hd+2*i+j, h*hd+j*hd/2+i
				copy(dst[f*cols:(f+1)*cols], src[g*cols:(g+1)*cols])
			}
		}
	}
	return dst
}

// WritePEFT writes a PEFT LoRA adapter (adapter_model.safetensors + adapter_config.json) with
// Hugging Face tensor names. For the llama architecture, whose GGUF Q/K rows are permuted from
// HF's layout by the converter, lora_B of q and k is permuted back.
func (m *Model) WritePEFT(dir string) error { return m.writePEFT(dir, nil) }

// writePEFT writes the PEFT adapter; with a reward head, as a sequence-classification adapter
// (task_type SEQ_CLS) whose modules_to_save score layer is saved beside the LoRA tensors under
// PEFT's name for it, base_model.model.score.weight ([1, hidden]).
func (m *Model) writePEFT(dir string, head *RewardHead) error {
	if spec, _ := archTraits(m.cfg.Arch); spec.fused {
		// HF Phi-3 has fused qkv_proj / gate_up_proj modules, which PEFT adapts as one.
		return fmt.Errorf("model: write PEFT: %s keeps q, k, v and gate, up fused (qkv_proj, gate_up_proj); export a GGUF adapter or a merged model instead", m.cfg.Arch)
	}
	ls := m.loraLinears()
	if len(ls) == 0 {
		return errors.New("model: write PEFT: the model has no LoRA adapters")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model: write PEFT: %w", err)
	}
	type entry struct {
		name  string
		shape []int
		data  []float32
	}
	var es []entry
	targets := map[string]bool{}
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			if l.lora == nil {
				continue
			}
			targets[hfModule(l.target)[strings.Index(hfModule(l.target), ".")+1:]] = true
			base := fmt.Sprintf("base_model.model.model.layers.%d.%s", i, hfModule(l.target))
			b := l.lora.b.Data
			if !m.cfg.RopeNeoX && (l.target == "q" || l.target == "k") {
				heads := m.cfg.Heads
				if l.target == "k" {
					heads = m.cfg.KVHeads
				}
				b = unpermuteRows(b, heads, m.cfg.HeadDim, l.lora.rank)
			}
			es = append(es,
				entry{base + ".lora_A.weight", []int{l.lora.rank, l.in}, l.lora.a.Data},
				entry{base + ".lora_B.weight", []int{l.out, l.lora.rank}, b})
		}
	}
	if head != nil {
		es = append(es, entry{"base_model.model.score.weight", []int{1, len(head.W.Data)}, head.W.Data})
	}
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	off := 0
	for _, e := range es {
		header[e.name] = map[string]any{"dtype": "F32", "shape": e.shape, "data_offsets": []int{off, off + 4*len(e.data)}}
		off += 4 * len(e.data)
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	buf := make([]byte, 8, 8+len(hj)+off)
	binary.LittleEndian.PutUint64(buf, uint64(len(hj)))
	buf = append(buf, hj...)
	for _, e := range es {
		for _, v := range e.data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "adapter_model.safetensors"), buf, 0o644); err != nil {
		return fmt.Errorf("model: write PEFT: %w", err)
	}
	name := ""
	if m.kv != nil {
		name = m.kv.String("general.name")
	}
	lc := m.opt.LoRA
	cfg := map[string]any{
		"peft_type":               "LORA",
		"task_type":               "CAUSAL_LM",
		"r":                       lc.Rank,
		"lora_alpha":              ls[0].lora.scale * float32(lc.Rank),
		"lora_dropout":            lc.Dropout,
		"target_modules":          slices.Sorted(maps.Keys(targets)),
		"bias":                    "none",
		"fan_in_fan_out":          false,
		"inference_mode":          true,
		"base_model_name_or_path": name,
	}
	if head != nil {
		cfg["task_type"] = "SEQ_CLS"
		cfg["modules_to_save"] = []string{"score"}
	}
	cj, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), append(cj, '\n'), 0o644); err != nil {
		return fmt.Errorf("model: write PEFT: %w", err)
	}
	return nil
}

// The align adapter checkpoint: "ALIGNPRM" magic, version 1, the parameter count, then per
// parameter its name, shape and float32 data (little endian).
const adapterMagic = "ALIGNPRM"

// SaveAdapter writes the trainable tensors (LoRA A/B, or every weight with Full) in align's own
// checkpoint format.
func (m *Model) SaveAdapter(w io.Writer) error {
	buf := []byte(adapterMagic)
	buf = binary.LittleEndian.AppendUint32(buf, 1)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(m.params)))
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("model: save adapter: %w", err)
	}
	for _, p := range m.params {
		buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(len(p.Name)))
		buf = append(buf, p.Name...)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(p.Shape)))
		for _, d := range p.Shape {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(d))
		}
		for _, v := range p.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("model: save adapter: %w", err)
		}
	}
	return nil
}

// LoadAdapter reads tensors written by SaveAdapter into the trainable parameters; names and
// shapes must match exactly.
func (m *Model) LoadAdapter(r io.Reader) error {
	if err := m.loadAdapter(r); err != nil {
		return fmt.Errorf("model: load adapter: %w", err)
	}
	return nil
}

func (m *Model) loadAdapter(r io.Reader) error {
	head := make([]byte, len(adapterMagic)+8)
	if _, err := io.ReadFull(r, head); err != nil {
		return err
	}
	if string(head[:len(adapterMagic)]) != adapterMagic {
		return errors.New("not an align adapter checkpoint")
	}
	if v := binary.LittleEndian.Uint32(head[8:]); v != 1 {
		return fmt.Errorf("checkpoint version %d not supported", v)
	}
	n := int(binary.LittleEndian.Uint32(head[12:]))
	if n != len(m.params) {
		return fmt.Errorf("%d tensors in the checkpoint, the model trains %d", n, len(m.params))
	}
	var u32 [4]byte
	for _, p := range m.params {
		if _, err := io.ReadFull(r, u32[:]); err != nil {
			return err
		}
		ln := binary.LittleEndian.Uint32(u32[:])
		if ln > 1<<16 {
			return errors.New("corrupt checkpoint (name length)")
		}
		name := make([]byte, ln)
		if _, err := io.ReadFull(r, name); err != nil {
			return err
		}
		if string(name) != p.Name {
			return fmt.Errorf("tensor %q in the checkpoint where the model has %q", name, p.Name)
		}
		if _, err := io.ReadFull(r, u32[:]); err != nil {
			return err
		}
		nd := int(binary.LittleEndian.Uint32(u32[:]))
		if nd != len(p.Shape) {
			return fmt.Errorf("tensor %s: %d dims, want %d", p.Name, nd, len(p.Shape))
		}
		dims := make([]byte, 8*nd)
		if _, err := io.ReadFull(r, dims); err != nil {
			return err
		}
		for i := range nd {
			if d := int(binary.LittleEndian.Uint64(dims[8*i:])); d != p.Shape[i] {
				return fmt.Errorf("tensor %s: shape dim %d is %d, want %d", p.Name, i, d, p.Shape[i])
			}
		}
		raw := make([]byte, 4*len(p.Data))
		if _, err := io.ReadFull(r, raw); err != nil {
			return fmt.Errorf("tensor %s: %w", p.Name, err)
		}
		for i := range p.Data {
			p.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	return nil
}
