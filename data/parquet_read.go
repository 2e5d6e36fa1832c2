package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

var parquetMagic = []byte("PAR1")

// pnode is one node of a Parquet schema, with what assembly needs: the definition level at
// which the node is present and the repetition depth of its nearest repeated ancestor-or-self.
type pnode struct {
	name     string
	rep      format.FieldRepetitionType
	leaf     bool
	phys     format.Type
	children []*pnode
	// list is set on a group that follows the LIST convention (annotated LIST with one
	// repeated child); elem3 when that child is the 3-level "list" wrapper whose single field
	// is the element.
	list, elem3 bool
	defLevel    int
	repDepth    int
	typeName    string
}

// parquetSource assembles rows from a Parquet file, one row group at a time, into the generic
// values the layouts read (see rawRow).
type parquetSource struct {
	file   string
	pf     *parquet.File
	root   *pnode
	paths  [][]*pnode // per leaf column: the nodes from the top-level field down to the leaf
	groups []parquet.RowGroup
	gi     int
	rows   parquet.Rows
	buf    []parquet.Row
	bi, bn int
	row    int
	idx    []int
	fast   *fastPlan // nil when the schema needs the generic path (see parquet_fast.go)
}

// openParquet checks the magic numbers and the footer before handing the file to parquet-go,
// so that a truncated or foreign file gets a clear message.
func openParquet(path string, f *os.File) (*parquetSource, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", filepath.Base(path), err)
	}
	return openParquetAt(filepath.Base(path), f, st.Size())
}

func openParquetAt(name string, f io.ReaderAt, size int64) (src *parquetSource, err error) {
	if size < 12 {
		return nil, &Issue{File: name, Reason: "truncated Parquet file", Detail: fmt.Sprintf("%d bytes, too short to hold a footer", size)}
	}
	var head, tail [8]byte
	if _, err := f.ReadAt(head[:4], 0); err != nil {
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	if !bytes.Equal(head[:4], parquetMagic) {
		return nil, &Issue{File: name, Reason: "not a Parquet file", Detail: fmt.Sprintf("bad magic %q at the start", head[:4])}
	}
	if !bytes.Equal(tail[4:], parquetMagic) {
		return nil, &Issue{File: name, Reason: "truncated Parquet file", Detail: "no PAR1 magic at the end: the footer is cut or missing"}
	}
	footer := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footer <= 0 || footer > size-12 {
		return nil, &Issue{File: name, Reason: "corrupted Parquet footer", Detail: fmt.Sprintf("footer length %d does not fit a %d-byte file", footer, size)}
	}
	defer func() {
		// parquet-go may panic on a corrupted footer; a user gets an error instead.
		if r := recover(); r != nil {
			src, err = nil, &Issue{File: name, Reason: "corrupted Parquet footer", Detail: fmt.Sprint(r)}
		}
	}()
	pf, err := parquet.OpenFile(f, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return nil, &Issue{File: name, Reason: "corrupted Parquet footer", Detail: err.Error()}
	}
	// Column chunks must lie inside the file: parquet-go sizes its buffers from these numbers.
	for gi, rg := range pf.Metadata().RowGroups {
		for ci, cc := range rg.Columns {
			md := cc.MetaData
			if md.Codec == format.Lz4Raw {
				// parquet-go's LZ4 decoder doubles its buffer until a block decodes, so a
				// corrupted page would exhaust memory instead of failing.
				return nil, &Issue{File: name, Reason: "unsupported Parquet compression", Detail: fmt.Sprintf("row group %d column chunk %d is LZ4_RAW, which align does not read; rewrite the file with snappy or zstd", gi+1, ci+1)}
			}
			if md.TotalCompressedSize < 0 || md.TotalCompressedSize > size || md.DataPageOffset < 0 || md.DataPageOffset >= size ||
				md.TotalUncompressedSize < 0 || md.NumValues < 0 || rg.NumRows < 0 {
				return nil, &Issue{File: name, Reason: "corrupted Parquet footer", Detail: fmt.Sprintf("row group %d column chunk %d: sizes or offsets outside the %d-byte file", gi+1, ci+1, size)}
			}
		}
	}
	root, err := buildSchema(pf.Metadata().Schema)
	if err != nil {
		return nil, &Issue{File: name, Reason: "corrupted Parquet schema", Detail: err.Error()}
	}
	s := &parquetSource{file: name, pf: pf, root: root, groups: pf.RowGroups()}
	s.collectPaths(nil, root)
	maxRep := 0
	for _, p := range s.paths {
		if d := p[len(p)-1].repDepth; d > maxRep {
			maxRep = d
		}
	}
	s.idx = make([]int, maxRep+1)
	s.buf = make([]parquet.Row, 64)
	s.fast = planFast(s)
	return s, nil
}

// buildSchema turns the flat, depth-first schema list of the footer into a tree.
func buildSchema(elems []format.SchemaElement) (*pnode, error) {
	if len(elems) == 0 {
		return nil, errors.New("empty schema")
	}
	pos := 0
	var build func(parent *pnode, depth int) (*pnode, error)
	build = func(parent *pnode, depth int) (*pnode, error) {
		if pos >= len(elems) {
			return nil, errors.New("schema ends early")
		}
		if depth > 64 {
			return nil, errors.New("schema nested too deeply")
		}
		e := elems[pos]
		pos++
		n := &pnode{name: e.Name}
		if rt, ok := e.RepetitionType.Get(); ok && parent != nil {
			n.rep = rt
		}
		if parent != nil {
			n.defLevel, n.repDepth = parent.defLevel, parent.repDepth
			switch n.rep {
			case format.Optional:
				n.defLevel++
			case format.Repeated:
				n.defLevel++
				n.repDepth++
			}
		}
		nc, hasChildren := e.NumChildren.Get()
		if !hasChildren || (nc == 0 && parent != nil && e.Type.Valid) {
			n.leaf = true
			t, ok := e.Type.Get()
			if !ok {
				return nil, fmt.Errorf("column %q has no type", e.Name)
			}
			n.phys = t
			n.typeName = leafTypeName(e)
			return n, nil
		}
		if nc < 0 || int(nc) > len(elems)-pos {
			return nil, fmt.Errorf("group %q claims %d children", e.Name, nc)
		}
		for i := 0; i < int(nc); i++ {
			c, err := build(n, depth+1)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, c)
		}
		isList := false
		if _, ok := e.LogicalType.Value.(*format.ListType); ok {
			isList = true
		}
		if ct, ok := e.ConvertedType.Get(); ok && ct == deprecated.List {
			isList = true
		}
		if isList && len(n.children) == 1 && n.children[0].rep == format.Repeated {
			n.list = true
			r := n.children[0]
			// The backward-compatibility rules of the Parquet LogicalTypes spec: the repeated
			// child is the element itself (2-level) when it is a leaf, has several fields, or
			// is named "array" or "<list>_tuple"; otherwise its one field is the element.
			n.elem3 = !r.leaf && len(r.children) == 1 && r.name != "array" && r.name != n.name+"_tuple"
		}
		n.typeName = groupTypeName(n)
		return n, nil
	}
	root, err := build(nil, 0)
	if err != nil {
		return nil, err
	}
	if pos != len(elems) {
		return nil, fmt.Errorf("schema has %d elements, the tree uses %d", len(elems), pos)
	}
	return root, nil
}

func leafTypeName(e format.SchemaElement) string {
	t, _ := e.Type.Get()
	switch t {
	case format.ByteArray:
		if _, ok := e.LogicalType.Value.(*format.StringType); ok {
			return "string"
		}
		if ct, ok := e.ConvertedType.Get(); ok && ct == deprecated.UTF8 {
			return "string"
		}
		return "binary"
	case format.Boolean:
		return "bool"
	case format.Int32:
		return "int32"
	case format.Int64:
		return "int64"
	case format.Float:
		return "float"
	case format.Double:
		return "double"
	case format.FixedLenByteArray:
		return "fixed_len_binary"
	case format.Int96:
		return "int96"
	}
	return "unknown"
}

func groupTypeName(n *pnode) string {
	if n.list {
		r := n.children[0]
		if n.elem3 {
			return "list<" + elemTypeName(r.children[0]) + ">"
		}
		return "list<" + r.typeName + ">"
	}
	parts := make([]string, len(n.children))
	for i, c := range n.children {
		parts[i] = c.name + ": " + elemTypeName(c)
	}
	return "struct<" + strings.Join(parts, ", ") + ">"
}

// elemTypeName names a node's type, with a repeated node shown as a list of itself.
func elemTypeName(n *pnode) string {
	t := n.typeName
	if n.rep == format.Repeated && !n.list {
		return "list<" + t + ">"
	}
	return t
}

func (s *parquetSource) collectPaths(prefix []*pnode, n *pnode) {
	for _, c := range n.children {
		p := append(append([]*pnode(nil), prefix...), c)
		if c.leaf {
			s.paths = append(s.paths, p)
		} else {
			s.collectPaths(p, c)
		}
	}
}

func (s *parquetSource) schema() []ColumnInfo {
	out := make([]ColumnInfo, len(s.root.children))
	for i, c := range s.root.children {
		out[i] = ColumnInfo{Name: c.name, Type: elemTypeName(c)}
	}
	return out
}

func (s *parquetSource) numRows() int64 { return s.pf.NumRows() }

func (s *parquetSource) close() error {
	if s.fast != nil {
		s.fast.closePages()
	}
	if s.rows != nil {
		_ = s.rows.Close()
		s.rows = nil
	}
	return nil
}

func (s *parquetSource) corrupt(detail any) error {
	return &Issue{File: s.file, Row: s.row + 1, Reason: "corrupted Parquet data", Detail: fmt.Sprint(detail)}
}

func (s *parquetSource) next() (rr rawRow, err error) {
	defer func() {
		// parquet-go may panic on corrupted pages; report the row instead of crashing.
		if r := recover(); r != nil {
			rr, err = rawRow{}, s.corrupt(r)
		}
	}()
	if s.fast != nil {
		return s.nextFast()
	}
	for s.bi >= s.bn {
		if s.rows == nil {
			if s.gi >= len(s.groups) {
				return rawRow{}, io.EOF
			}
			s.rows = s.groups[s.gi].Rows()
			s.gi++
		}
		n, err := s.rows.ReadRows(s.buf)
		s.bi, s.bn = 0, n
		if err != nil {
			if err != io.EOF {
				return rawRow{}, s.corrupt(err)
			}
			_ = s.rows.Close()
			s.rows = nil
		}
		if n == 0 && err == nil {
			return rawRow{}, s.corrupt("row group yields no rows")
		}
	}
	row := s.buf[s.bi]
	s.bi++
	s.row++
	rr = rawRow{row: s.row}
	fields, is := s.assemble(row)
	rr.fields, rr.issue = fields, is
	return rr, nil
}

// assemble rebuilds one row's nested values from its leaf values and their repetition and
// definition levels (the Dremel record assembly), column by column: each column walks the same
// containers, creating what is not there yet.
func (s *parquetSource) assemble(row parquet.Row) (map[string]any, *Issue) {
	out := make(map[string]any, len(s.root.children))
	var issue *Issue
	for start := 0; start < len(row); {
		col := row[start].Column()
		end := start + 1
		for end < len(row) && row[end].Column() == col {
			end++
		}
		if col < 0 || col >= len(s.paths) {
			return nil, &Issue{File: s.file, Row: s.row, Reason: "corrupted Parquet data", Detail: fmt.Sprintf("value for column %d of %d", col, len(s.paths))}
		}
		path := s.paths[col]
		for i := range s.idx {
			s.idx[i] = 0
		}
		for k, v := range row[start:end] {
			r, d := v.RepetitionLevel(), v.DefinitionLevel()
			if k > 0 {
				if r <= 0 || r >= len(s.idx) {
					return nil, &Issue{File: s.file, Row: s.row, Column: path[0].name, Reason: "corrupted Parquet data", Detail: fmt.Sprintf("repetition level %d", r)}
				}
				s.idx[r]++
				for j := r + 1; j < len(s.idx); j++ {
					s.idx[j] = 0
				}
			}
			bad, err := s.place(out, path, v, d)
			if err != "" {
				return nil, &Issue{File: s.file, Row: s.row, Column: path[0].name, Reason: "corrupted Parquet data", Detail: err}
			}
			if bad && issue == nil {
				issue = &Issue{File: s.file, Row: s.row, Column: path[0].name, Reason: "invalid UTF-8"}
			}
		}
		start = end
	}
	if issue != nil {
		return out, issue
	}
	return out, nil
}

// place puts one leaf value into the row, creating the containers on its path. It returns
// whether the value is a string with invalid UTF-8, and a description of any inconsistency.
func (s *parquetSource) place(m map[string]any, path []*pnode, v parquet.Value, d int) (badUTF8 bool, corrupt string) {
	var cur any = m
	for i := 0; i < len(path); i++ {
		n := path[i]
		mm, ok := cur.(map[string]any)
		if !ok {
			return false, fmt.Sprintf("column %q: inconsistent levels", n.name)
		}
		name := n.name
		if n.list || (n.rep == format.Repeated) {
			// A list: the LIST group (with its repeated child next on the path) or a bare
			// repeated field.
			r := n
			if n.list {
				if d < n.defLevel {
					if _, ok := mm[name]; !ok {
						mm[name] = nil
					}
					return false, ""
				}
				if i+1 >= len(path) {
					return false, "list without element"
				}
				r = path[i+1]
			}
			lst, _ := mm[name].(*[]any)
			if lst == nil {
				lst = new([]any)
				mm[name] = lst
			}
			if d < r.defLevel {
				return false, ""
			}
			j := s.idx[r.repDepth]
			switch {
			case j == len(*lst):
				*lst = append(*lst, nil)
			case j > len(*lst):
				return false, fmt.Sprintf("column %q: element %d after %d", name, j, len(*lst))
			}
			elem := r
			next := i + 1
			if n.list {
				next = i + 2
				if n.elem3 {
					if i+2 >= len(path) {
						return false, "list without element"
					}
					elem = path[i+2]
					next = i + 3
				}
			}
			items := *lst
			if n.list && n.elem3 && d < elem.defLevel {
				return false, "" // a null element of a 3-level list
			}
			if elem.leaf {
				x, bad := leafValue(v)
				items[j] = x
				return bad, ""
			}
			g, _ := items[j].(map[string]any)
			if g == nil {
				if items[j] != nil {
					return false, "inconsistent element"
				}
				g = make(map[string]any, len(elem.children))
				items[j] = g
			}
			cur = g
			i = next - 1
			continue
		}
		if d < n.defLevel {
			if _, ok := mm[name]; !ok {
				mm[name] = nil
			}
			return false, ""
		}
		if n.leaf {
			x, bad := leafValue(v)
			mm[name] = x
			return bad, ""
		}
		g, _ := mm[name].(map[string]any)
		if g == nil {
			g = make(map[string]any, len(n.children))
			mm[name] = g
		}
		cur = g
	}
	return false, "path ends in a group"
}

// leafValue converts a leaf value to the generic types, and says whether it is a string with
// invalid UTF-8.
func leafValue(v parquet.Value) (any, bool) {
	if v.IsNull() {
		return nil, false
	}
	switch v.Kind() {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		b := v.ByteArray()
		return string(b), !utf8.Valid(b)
	case parquet.Boolean:
		return v.Boolean(), false
	case parquet.Int32:
		return int64(v.Int32()), false
	case parquet.Int64:
		return v.Int64(), false
	case parquet.Float:
		return float64(v.Float()), false
	case parquet.Double:
		return v.Double(), false
	}
	return nil, false
}
