// Command gen writes the Parquet fixtures in ../parquet with arrow-go (the Go implementation of
// Apache Arrow and Parquet), a writer other than the one align uses. It lives in its own module
// so that align itself does not depend on arrow-go. Run from this directory:
//
//	go run . ../parquet
//
// With -check FILE it reads a Parquet file that align wrote, with arrow-go, and prints its
// schema and first values (a check that another implementation reads align's output):
//
//	go run . -check /tmp/pairs.parquet
//
// The fixtures cover what other tools write: string and large_string, 3-level lists
// (pqarrow's default) and the legacy 2-level encoding (through arrow-go's low-level writer),
// dictionary and plain encodings, snappy, zstd, gzip and no compression, several row groups.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

func main() {
	dir := "../parquet"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	steps := []struct {
		name string
		fn   func(string) error
	}{
		{"hf_large_string_snappy.parquet", largeStrings},
		{"trl_conversational_zstd.parquet", trlConversational},
		{"ultrafeedback_binarized_gzip.parquet", ultrafeedbackBinarized},
		{"ultrafeedback_completions_snappy.parquet", ultrafeedbackCompletions},
		{"kto_messages_zstd.parquet", ktoMessages},
		{"legacy_2level_uncompressed.parquet", legacyTwoLevel},
	}
	for _, s := range steps {
		if err := s.fn(filepath.Join(dir, s.name)); err != nil {
			fail(fmt.Errorf("%s: %w", s.name, err))
		}
		fmt.Println("wrote", s.name)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}

func question(i int) string { return fmt.Sprintf("Question %d: what is %d plus %d?", i, i, i+1) }
func good(i int) string     { return fmt.Sprintf("%d plus %d is %d.", i, i+1, 2*i+1) }
func bad(i int) string      { return fmt.Sprintf("I think it is %d, héhé.", 2*i+7) }

func write(path string, sc *arrow.Schema, rec arrow.Record, props *parquet.WriterProperties) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := pqarrow.NewFileWriter(sc, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return err
	}
	if err := w.Write(rec); err != nil {
		return err
	}
	return w.Close()
}

// msgType is list<struct<content: string, role: string>>, or role first when roleFirst.
func msgStruct(roleFirst bool) *arrow.StructType {
	if roleFirst {
		return arrow.StructOf(arrow.Field{Name: "role", Type: arrow.BinaryTypes.String}, arrow.Field{Name: "content", Type: arrow.BinaryTypes.String})
	}
	return arrow.StructOf(arrow.Field{Name: "content", Type: arrow.BinaryTypes.String}, arrow.Field{Name: "role", Type: arrow.BinaryTypes.String})
}

type msg struct{ role, content string }

func appendMessages(lb *array.ListBuilder, roleFirst bool, ms []msg) {
	lb.Append(true)
	sb := lb.ValueBuilder().(*array.StructBuilder)
	ri, ci := 1, 0
	if roleFirst {
		ri, ci = 0, 1
	}
	for _, m := range ms {
		sb.Append(true)
		sb.FieldBuilder(ri).(*array.StringBuilder).Append(m.role)
		sb.FieldBuilder(ci).(*array.StringBuilder).Append(m.content)
	}
}

// largeStrings: prompt/chosen/rejected as large_string, nullable double scores (row 4 has no
// scores), snappy, dictionary encoding, 10 rows in row groups of 3.
func largeStrings(path string) error {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "prompt", Type: arrow.BinaryTypes.LargeString},
		{Name: "chosen", Type: arrow.BinaryTypes.LargeString},
		{Name: "rejected", Type: arrow.BinaryTypes.LargeString},
		{Name: "score_chosen", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "score_rejected", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := 1; i <= 10; i++ {
		b.Field(0).(*array.LargeStringBuilder).Append(question(i))
		b.Field(1).(*array.LargeStringBuilder).Append(good(i))
		b.Field(2).(*array.LargeStringBuilder).Append(bad(i))
		if i == 4 {
			b.Field(3).AppendNull()
			b.Field(4).AppendNull()
		} else {
			b.Field(3).(*array.Float64Builder).Append(float64(8 + i%3))
			b.Field(4).(*array.Float64Builder).Append(float64(2 + i%3))
		}
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithDictionaryDefault(true), parquet.WithMaxRowGroupLength(3))
	return write(path, sc, b.NewRecord(), props)
}

// trlConversational: chosen/rejected as list<struct<role, content>> holding the whole
// conversation (TRL's implicit-prompt conversational format); odd rows open with a system
// message, rows divisible by 3 are two-turn. zstd, plain encoding, row groups of 4.
func trlConversational(path string) error {
	st := msgStruct(true)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "chosen", Type: arrow.ListOf(st)},
		{Name: "rejected", Type: arrow.ListOf(st)},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := 1; i <= 10; i++ {
		var prompt []msg
		if i%2 == 1 {
			prompt = append(prompt, msg{"system", "You are a careful calculator."})
		}
		if i%3 == 0 {
			prompt = append(prompt, msg{"user", "Hello."}, msg{"assistant", "Hello! Ask me a sum."})
		}
		prompt = append(prompt, msg{"user", question(i)})
		appendMessages(b.Field(0).(*array.ListBuilder), true, append(append([]msg{}, prompt...), msg{"assistant", good(i)}))
		appendMessages(b.Field(1).(*array.ListBuilder), true, append(append([]msg{}, prompt...), msg{"assistant", bad(i)}))
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithDictionaryDefault(false), parquet.WithMaxRowGroupLength(4))
	return write(path, sc, b.NewRecord(), props)
}

// ultrafeedbackBinarized: the HuggingFaceH4/ultrafeedback_binarized layout: prompt string,
// prompt_id, chosen/rejected/messages list<struct<content, role>> with the prompt inside, and
// double scores. gzip, dictionary encoding.
func ultrafeedbackBinarized(path string) error {
	st := msgStruct(false)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "prompt", Type: arrow.BinaryTypes.String},
		{Name: "prompt_id", Type: arrow.BinaryTypes.String},
		{Name: "chosen", Type: arrow.ListOf(st)},
		{Name: "rejected", Type: arrow.ListOf(st)},
		{Name: "messages", Type: arrow.ListOf(st)},
		{Name: "score_chosen", Type: arrow.PrimitiveTypes.Float64},
		{Name: "score_rejected", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := 1; i <= 6; i++ {
		b.Field(0).(*array.StringBuilder).Append(question(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("p%04d", i))
		appendMessages(b.Field(2).(*array.ListBuilder), false, []msg{{"user", question(i)}, {"assistant", good(i)}})
		appendMessages(b.Field(3).(*array.ListBuilder), false, []msg{{"user", question(i)}, {"assistant", bad(i)}})
		appendMessages(b.Field(4).(*array.ListBuilder), false, []msg{{"user", question(i)}, {"assistant", good(i)}})
		b.Field(5).(*array.Float64Builder).Append(9)
		b.Field(6).(*array.Float64Builder).Append(float64(i % 5))
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Gzip),
		parquet.WithDictionaryDefault(true), parquet.WithMaxRowGroupLength(2))
	return write(path, sc, b.NewRecord(), props)
}

// ultrafeedbackCompletions: openbmb/UltraFeedback's ranked layout: instruction plus
// completions list<struct<model, response, overall_score, fine-grained_score>>.
func ultrafeedbackCompletions(path string) error {
	st := arrow.StructOf(
		arrow.Field{Name: "model", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "response", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "overall_score", Type: arrow.PrimitiveTypes.Float64},
		arrow.Field{Name: "fine-grained_score", Type: arrow.PrimitiveTypes.Float64},
	)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "source", Type: arrow.BinaryTypes.String},
		{Name: "instruction", Type: arrow.BinaryTypes.String},
		{Name: "completions", Type: arrow.ListOf(st)},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	models := []string{"alpha", "beta", "gamma", "delta"}
	for i := 1; i <= 5; i++ {
		b.Field(0).(*array.StringBuilder).Append("evol_instruct")
		b.Field(1).(*array.StringBuilder).Append(question(i))
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		sb := lb.ValueBuilder().(*array.StructBuilder)
		for k, m := range models {
			sb.Append(true)
			sb.FieldBuilder(0).(*array.StringBuilder).Append(m)
			sb.FieldBuilder(1).(*array.StringBuilder).Append(fmt.Sprintf("%s answers question %d", m, i))
			sb.FieldBuilder(2).(*array.Float64Builder).Append(float64(10 - 2*k))
			sb.FieldBuilder(3).(*array.Float64Builder).Append(float64(5-k) - 0.25*float64(i%2))
		}
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(2))
	return write(path, sc, b.NewRecord(), props)
}

// ktoMessages: unpaired messages list<struct<content, role>> plus a boolean label.
func ktoMessages(path string) error {
	st := msgStruct(false)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "messages", Type: arrow.ListOf(st)},
		{Name: "label", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := 1; i <= 8; i++ {
		ans := good(i)
		if i%2 == 0 {
			ans = bad(i)
		}
		appendMessages(b.Field(0).(*array.ListBuilder), false, []msg{{"user", question(i)}, {"assistant", ans}})
		b.Field(1).(*array.BooleanBuilder).Append(i%2 == 1)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithMaxRowGroupLength(3))
	return write(path, sc, b.NewRecord(), props)
}

// legacyTwoLevel writes, with arrow-go's low-level column writers, the legacy 2-level list
// encoding that parquet-avro and old Spark/Hive write:
//
//	required binary prompt (STRING);
//	optional group chosen (LIST) { repeated group array { required binary role (STRING); required binary content (STRING); } }
//	optional group rejected (LIST) { repeated group array { ... } }
//	optional group tags (LIST) { repeated binary array (STRING); }
//
// Row 2 has null tags and row 4 an empty tags list.
func legacyTwoLevel(path string) error {
	str := func(name string, rep parquet.Repetition) schema.Node {
		n, err := schema.NewPrimitiveNodeLogical(name, rep, schema.StringLogicalType{}, parquet.Types.ByteArray, -1, -1)
		if err != nil {
			panic(err)
		}
		return n
	}
	list := func(name string) schema.Node {
		elem, err := schema.NewGroupNode("array", parquet.Repetitions.Repeated, schema.FieldList{str("role", parquet.Repetitions.Required), str("content", parquet.Repetitions.Required)}, -1)
		if err != nil {
			panic(err)
		}
		g, err := schema.NewGroupNodeLogical(name, parquet.Repetitions.Optional, schema.FieldList{elem}, schema.ListLogicalType{}, -1)
		if err != nil {
			panic(err)
		}
		return g
	}
	tags, err := schema.NewGroupNodeLogical("tags", parquet.Repetitions.Optional, schema.FieldList{str("array", parquet.Repetitions.Repeated)}, schema.ListLogicalType{}, -1)
	if err != nil {
		return err
	}
	root, err := schema.NewGroupNode("schema", parquet.Repetitions.Required, schema.FieldList{str("prompt", parquet.Repetitions.Required), list("chosen"), list("rejected"), tags}, -1)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Uncompressed), parquet.WithDictionaryDefault(false))
	pw := file.NewParquetWriter(f, root, file.WithWriterProps(props))
	// Two row groups: rows 1-3 and 4-5.
	for _, rg := range [][2]int{{1, 3}, {4, 5}} {
		rgw := pw.AppendRowGroup()
		var prompts []parquet.ByteArray
		var cRole, cContent, rRole, rContent, tagVals []parquet.ByteArray
		var cDef, cRep, rDef, rRep, tDef, tRep []int16
		for i := rg[0]; i <= rg[1]; i++ {
			prompts = append(prompts, parquet.ByteArray(question(i)))
			cRole = append(cRole, parquet.ByteArray("assistant"))
			cContent = append(cContent, parquet.ByteArray(good(i)))
			cDef, cRep = append(cDef, 2), append(cRep, 0)
			rRole = append(rRole, parquet.ByteArray("assistant"))
			rContent = append(rContent, parquet.ByteArray(bad(i)))
			rDef, rRep = append(rDef, 2), append(rRep, 0)
			// tags: row 2 null, row 4 empty, others two tags.
			switch i {
			case 2:
				tDef, tRep = append(tDef, 0), append(tRep, 0)
			case 4:
				tDef, tRep = append(tDef, 1), append(tRep, 0)
			default:
				tagVals = append(tagVals, parquet.ByteArray("math"), parquet.ByteArray(fmt.Sprintf("t%d", i)))
				tDef, tRep = append(tDef, 2, 2), append(tRep, 0, 1)
			}
		}
		cols := []func(file.ColumnChunkWriter) error{
			func(w file.ColumnChunkWriter) error {
				_, err := w.(*file.ByteArrayColumnChunkWriter).WriteBatch(prompts, nil, nil)
				return err
			},
			func(w file.ColumnChunkWriter) error {
				_, err := w.(*file.ByteArrayColumnChunkWriter).WriteBatch(cRole, cDef, cRep)
				return err
			},
			func(w file.ColumnChunkWriter) error {
				_, err := w.(*file.ByteArrayColumnChunkWriter).WriteBatch(cContent, cDef, cRep)
				return err
			},
			func(w file.ColumnChunkWriter) error {
				_, err := w.(*file.ByteArrayColumnChunkWriter).WriteBatch(rRole, rDef, rRep)
				return err
			},
			func(w file.ColumnChunkWriter) error {
				_, err := w.(*file.ByteArrayColumnChunkWriter).WriteBatch(rContent, rDef, rRep)
				return err
			},
			func(w file.ColumnChunkWriter) error {
				_, err := w.(*file.ByteArrayColumnChunkWriter).WriteBatch(tagVals, tDef, tRep)
				return err
			},
		}
		for _, c := range cols {
			cw, err := rgw.NextColumn()
			if err != nil {
				return err
			}
			if err := c(cw); err != nil {
				return err
			}
			if err := cw.Close(); err != nil {
				return err
			}
		}
		if err := rgw.Close(); err != nil {
			return err
		}
	}
	return pw.Close()
}
