package data

import (
	"fmt"
	"io"
	"unicode/utf8"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// The fast Parquet path reads the common preference schemas column by column, page by page,
// straight into strings and []Message, without parquet-go's row reconstruction and without
// the generic maps of one message each. It applies when every top-level column is either a
// non-repeated leaf (prompt, chosen, rejected as strings; id; scores) or a LIST of a struct of
// exactly the string leaves content and role (TRL's conversational format). Other schemas use
// the generic path (parquetSource.next over parquet-go rows); a row the fast path finds
// unusual (a null message, an unknown role, inconsistent levels) is handed, from the same
// column values, to the generic assembly, so that both paths give the same records and issues.
//
// Strings share memory: each data page's values are copied once into one Go string, and the
// row's strings are slices of it. A retained record therefore keeps its page (at most the
// writer's page size, 1 MiB for align's files) alive.

// fastEntry is one leaf value with its levels.
type fastEntry struct {
	rep, def int32
	bad      bool   // a byte array that is not valid UTF-8
	s        string // byte array columns
	v        parquet.Value
}

// colCursor walks one leaf column of a row group, a page at a time.
type colCursor struct {
	col     int
	isBytes bool
	pages   parquet.Pages
	page    parquet.Page // the current page, released to parquet-go's pool when done
	// The current page.
	n, li, vi  int
	rep, def   []byte
	maxDef     int32
	maxRep     int32
	str        string   // the page's byte array values, concatenated
	offs       []uint32 // value i is str[offs[i]:offs[i+1]]
	idx        []int32  // dictionary indexes, for a dictionary-encoded page
	dict       parquet.Dictionary
	dictStr    []string
	dictBad    []bool
	bad        []bool          // per value, nil when every value is valid UTF-8
	vals       []parquet.Value // a batch of a non-byte-array page's values
	vr         parquet.ValueReader
	vpos, vlen int
	ents       []fastEntry // the current row's values
}

// fastCol is one top-level column of the fast path.
type fastCol struct {
	name string
	node *pnode // the top-level node
	// scalar columns: leaf is the column's cursor; message lists: content and role.
	leaf          *colCursor
	content, role *colCursor
	rep           *pnode // the list's repeated node
	// generic columns (other shapes: lists of strings, nested lists) go through the generic
	// assembly, from the cursors' values.
	generic bool
	leaves  []*colCursor // a generic column's leaf cursors
	order   int          // the column's position, to report the first invalid column as the generic path does
}

type fastPlan struct {
	cols    []fastCol
	cursors []*colCursor // by leaf column index
	left    int64        // rows left in the row group
	row     parquet.Row  // scratch for the generic fallback

	anyGeneric bool
	isGeneric  []bool         // by leaf column index
	order      map[string]int // top-level column name -> position
}

// planFast returns the fast plan for s's schema, or nil when the schema is not one it reads.
func planFast(s *parquetSource) *fastPlan {
	p := &fastPlan{cursors: make([]*colCursor, len(s.paths))}
	leafIndex := map[*pnode]int{}
	anyFast := false
	for i, path := range s.paths {
		leafIndex[path[len(path)-1]] = i
		leaf := path[len(path)-1]
		p.cursors[i] = &colCursor{col: i, isBytes: leaf.phys == format.ByteArray, maxDef: int32(leaf.defLevel), maxRep: int32(leaf.repDepth)}
	}
	for ci, c := range s.root.children {
		fc := fastCol{name: c.name, node: c, order: ci}
		switch {
		case c.leaf && c.rep != format.Repeated:
			fc.leaf = p.cursors[leafIndex[c]]
		case messageList(c):
			r := c.children[0]
			elem := r
			if c.elem3 {
				elem = r.children[0]
			}
			for _, f := range elem.children {
				switch f.name {
				case "content":
					fc.content = p.cursors[leafIndex[f]]
				case "role":
					fc.role = p.cursors[leafIndex[f]]
				}
			}
			fc.rep = r
		default:
			fc.generic = true
		}
		anyFast = anyFast || !fc.generic
		p.cols = append(p.cols, fc)
	}
	if !anyFast {
		return nil
	}
	p.isGeneric = make([]bool, len(s.paths))
	p.order = map[string]int{}
	for i, path := range s.paths {
		for _, fc := range p.cols {
			if fc.node == path[0] && fc.generic {
				p.isGeneric[i], p.anyGeneric = true, true
			}
		}
	}
	for i := range p.cols {
		fc := &p.cols[i]
		for j, path := range s.paths {
			if fc.generic && path[0] == fc.node {
				fc.leaves = append(fc.leaves, p.cursors[j])
			}
		}
	}
	for _, fc := range p.cols {
		if _, dup := p.order[fc.name]; dup {
			return nil // two columns of one name: the generic path's map keeps the last
		}
		p.order[fc.name] = fc.order
	}
	return p
}

// messageList says whether n is a LIST of a struct of exactly the string leaves content and
// role.
func messageList(n *pnode) bool {
	if !n.list || n.children[0].leaf {
		return false
	}
	r := n.children[0]
	elem := r
	if n.elem3 {
		elem = r.children[0]
	}
	if elem.leaf || elem != r && elem.rep == format.Repeated || len(elem.children) != 2 {
		return false
	}
	seen := map[string]bool{}
	for _, f := range elem.children {
		if !f.leaf || f.rep == format.Repeated || f.phys != format.ByteArray || f.typeName != "string" {
			return false
		}
		seen[f.name] = true
	}
	return seen["content"] && seen["role"]
}

func (p *fastPlan) closePages() {
	for _, c := range p.cursors {
		c.release()
		if c.pages != nil {
			_ = c.pages.Close()
			c.pages = nil
		}
	}
}

// release hands the current page's buffers back to parquet-go: the cursor keeps only copies
// (strings, levels of the current row, cloned values).
func (c *colCursor) release() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	c.n, c.li, c.vi = 0, 0, 0
	c.rep, c.def, c.offs, c.idx = nil, nil, nil, nil
	c.vr, c.vpos, c.vlen = nil, 0, 0
}

// fill reads the next batch of a non-byte-array page's values when the last is used up. A page
// that yields fewer values than it claims panics, which next reports as corrupted data.
func (c *colCursor) fill() {
	if c.vpos < c.vlen {
		return
	}
	m, err := c.vr.ReadValues(c.vals)
	if m == 0 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		panic(fmt.Sprintf("column %d: page yields %d of %d values: %v", c.col, c.li, c.n, err))
	}
	for i := range c.vals[:m] {
		if k := c.vals[i].Kind(); k == parquet.FixedLenByteArray || k == parquet.Int96 {
			c.vals[i] = c.vals[i].Clone() // it points into the page's buffer
		}
	}
	c.vpos, c.vlen = 0, m
}

// loadPage reads the cursor's next page; io.EOF at the end of the column chunk.
func (c *colCursor) loadPage() error {
	c.release()
	pg, err := c.pages.ReadPage()
	if err != nil {
		return err
	}
	c.page = pg
	c.li, c.vi = 0, 0
	c.rep, c.def = pg.RepetitionLevels(), pg.DefinitionLevels()
	c.n = int(pg.NumValues())
	if c.n > 0 && (c.maxDef > 0 && len(c.def) == 0 || c.maxRep > 0 && len(c.rep) == 0) {
		return fmt.Errorf("column %d: page of %d values has no repetition or definition levels", c.col, c.n)
	}
	if len(c.def) > 0 && len(c.def) != c.n || len(c.rep) > 0 && len(c.rep) != c.n {
		return fmt.Errorf("column %d: page has %d values and %d/%d levels", c.col, c.n, len(c.rep), len(c.def))
	}
	if !c.isBytes {
		// Values are read in small batches: a damaged page may claim billions of (null)
		// values, which parquet-go keeps as one byte of level each.
		if c.vals == nil {
			c.vals = make([]parquet.Value, 256)
		}
		c.vr = pg.Values()
		return nil
	}
	nonNull := c.n
	if len(c.def) > 0 {
		nonNull = 0
		md := byte(c.maxDef)
		for _, d := range c.def {
			if d == md {
				nonNull++
			}
		}
	}
	c.idx, c.offs, c.bad = nil, nil, nil
	data := pg.Data()
	if d := pg.Dictionary(); d != nil {
		c.idx = data.Int32()
		if len(c.idx) < nonNull {
			return fmt.Errorf("column %d: page has %d of %d dictionary indexes", c.col, len(c.idx), nonNull)
		}
		if d != c.dict {
			c.dict = d
			dv := d.Page().Data()
			b, offs := dv.ByteArray()
			c.dictStr, c.dictBad = splitPage(string(b), offs, c.dictStr[:0], c.dictBad[:0])
		}
		for _, i := range c.idx[:nonNull] {
			if i < 0 || int(i) >= len(c.dictStr) {
				return fmt.Errorf("column %d: dictionary index %d of %d", c.col, i, len(c.dictStr))
			}
		}
		return nil
	}
	b, offs := data.ByteArray()
	if len(offs) < nonNull+1 || int(offs[len(offs)-1]) > len(b) {
		return fmt.Errorf("column %d: page has %d of %d values", c.col, max(len(offs)-1, 0), nonNull)
	}
	c.str, c.offs = string(b), offs
	if !utf8.ValidString(c.str) || !runeStarts(c.str, offs) {
		c.bad = make([]bool, len(offs)-1)
		for i := range c.bad {
			c.bad[i] = !utf8.ValidString(c.str[offs[i]:offs[i+1]])
		}
	}
	return nil
}

// runeStarts says whether every value of a valid UTF-8 page starts on a rune boundary, in
// which case every value is valid UTF-8 too.
func runeStarts(s string, offs []uint32) bool {
	for _, o := range offs {
		if int(o) < len(s) && !utf8.RuneStart(s[o]) {
			return false
		}
	}
	return true
}

// splitPage turns a dictionary's values into strings sharing one copy.
func splitPage(s string, offs []uint32, out []string, bad []bool) ([]string, []bool) {
	for i := 0; i+1 < len(offs); i++ {
		lo, hi := offs[i], offs[i+1]
		if lo > hi || int(hi) > len(s) {
			panic(fmt.Sprintf("dictionary value %d at %d:%d of %d bytes", i, lo, hi, len(s)))
		}
		v := s[lo:hi]
		out = append(out, v)
		bad = append(bad, !utf8.ValidString(v))
	}
	return out, bad
}

// entry returns the value at the cursor and advances.
func (c *colCursor) entry() fastEntry {
	if !c.isBytes {
		c.fill()
		v := c.vals[c.vpos]
		c.vpos++
		c.li++
		return fastEntry{rep: int32(v.RepetitionLevel()), def: int32(v.DefinitionLevel()), v: v}
	}
	var e fastEntry
	if len(c.rep) > 0 {
		e.rep = int32(c.rep[c.li])
	}
	e.def = c.maxDef
	if len(c.def) > 0 {
		e.def = int32(c.def[c.li])
	}
	c.li++
	if e.def == c.maxDef {
		if c.idx != nil {
			i := c.idx[c.vi]
			e.s, e.bad = c.dictStr[i], c.dictBad[i]
		} else {
			e.s = c.str[c.offs[c.vi]:c.offs[c.vi+1]]
			e.bad = c.bad != nil && c.bad[c.vi]
		}
		c.vi++
	}
	return e
}

// nextRow gathers the values of the next row into c.ents; false at the end of the chunk.
func (c *colCursor) nextRow() (bool, error) {
	c.ents = c.ents[:0]
	for {
		if c.li >= c.n {
			err := c.loadPage()
			if err == io.EOF {
				return len(c.ents) > 0, nil
			}
			if err != nil {
				return false, err
			}
			continue
		}
		if len(c.ents) > 0 {
			r := int32(0)
			if c.isBytes {
				if len(c.rep) > 0 {
					r = int32(c.rep[c.li])
				}
			} else {
				c.fill()
				r = int32(c.vals[c.vpos].RepetitionLevel())
			}
			if r == 0 {
				return true, nil
			}
		}
		c.ents = append(c.ents, c.entry())
	}
}

// nextFast is next for the fast plan.
func (s *parquetSource) nextFast() (rawRow, error) {
	p := s.fast
	for p.left <= 0 {
		p.closePages()
		if s.gi >= len(s.groups) {
			return rawRow{}, io.EOF
		}
		rg := s.groups[s.gi]
		s.gi++
		p.left = rg.NumRows()
		chunks := rg.ColumnChunks()
		if len(chunks) != len(p.cursors) {
			return rawRow{}, s.corrupt(fmt.Sprintf("row group %d has %d columns, the schema %d", s.gi, len(chunks), len(p.cursors)))
		}
		for i, c := range p.cursors {
			c.pages = chunks[i].Pages()
			c.dict = nil // a column chunk has its own dictionary
		}
	}
	for _, c := range p.cursors {
		ok, err := c.nextRow()
		if err != nil {
			return rawRow{}, s.corrupt(err)
		}
		if !ok {
			return rawRow{}, s.corrupt(fmt.Sprintf("column %q ends before the row group's %d rows", s.paths[c.col][0].name, s.groups[s.gi-1].NumRows()))
		}
	}
	p.left--
	s.row++
	rr := rawRow{row: s.row}
	fields, is, ok := s.fastAssemble()
	if !ok {
		fields, is = s.assemble(p.genericRow(false))
	}
	rr.fields, rr.issue = fields, is
	if p.left == 0 {
		// Every column must end with the row group.
		for _, c := range p.cursors {
			if c.li < c.n {
				return rawRow{}, s.corrupt(fmt.Sprintf("column %q has values past the row group's %d rows", s.paths[c.col][0].name, s.groups[s.gi-1].NumRows()))
			}
		}
	}
	return rr, nil
}

// genericRow rebuilds the current row as parquet-go values for the generic assembly: all of
// it, or with only, the generic columns.
func (p *fastPlan) genericRow(only bool) parquet.Row {
	row := p.row[:0]
	for _, c := range p.cursors {
		if only && !p.isGeneric[c.col] {
			continue
		}
		for _, e := range c.ents {
			var v parquet.Value
			switch {
			case !c.isBytes:
				v = e.v
			case e.def == c.maxDef:
				v = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(e.s), len(e.s)))
			default:
				v = parquet.NullValue()
			}
			row = append(row, v.Level(int(e.rep), int(e.def), c.col))
		}
	}
	p.row = row
	return row
}

// fastAssemble builds the row's fields from the cursors' values; ok is false when the row
// needs the generic assembly.
func (s *parquetSource) fastAssemble() (fields map[string]any, issue *Issue, ok bool) {
	p := s.fast
	issueAt := len(p.cols)
	if p.anyGeneric && !p.genericEmpty() {
		var gi *Issue
		fields, gi = s.assemble(p.genericRow(true))
		if fields == nil {
			return nil, nil, false // corrupted levels: let the generic path say so for the whole row
		}
		if gi != nil {
			issue = gi
			issueAt = p.order[gi.Column]
		}
	} else {
		fields = make(map[string]any, len(p.cols))
		for i := range p.cols {
			if fc := &p.cols[i]; fc.generic {
				fields[fc.name] = fc.emptyValue()
			}
		}
	}
	flag := func(fc *fastCol) {
		if fc.order < issueAt {
			issue = &Issue{File: s.file, Row: s.row, Column: fc.name, Reason: "invalid UTF-8"}
			issueAt = fc.order
		}
	}
	for i := range p.cols {
		fc := &p.cols[i]
		if fc.generic {
			continue
		}
		if fc.leaf != nil {
			c := fc.leaf
			if len(c.ents) != 1 {
				return nil, nil, false
			}
			e := c.ents[0]
			switch {
			case e.def < c.maxDef:
				fields[fc.name] = nil
			case c.isBytes:
				fields[fc.name] = e.s
				if e.bad {
					flag(fc)
				}
			default:
				v, bad := leafValue(e.v)
				fields[fc.name] = v
				if bad {
					flag(fc)
				}
			}
			continue
		}
		ce, re := fc.content.ents, fc.role.ents
		if len(ce) != len(re) || len(ce) == 0 {
			return nil, nil, false
		}
		if d := ce[0].def; d < int32(fc.rep.defLevel) {
			if len(ce) != 1 || re[0].def != d {
				return nil, nil, false
			}
			if d < int32(fc.node.defLevel) {
				fields[fc.name] = nil
			} else {
				fields[fc.name] = []Message{}
			}
			continue
		}
		msgs := make([]Message, len(ce))
		for k := range ce {
			c, r := &ce[k], &re[k]
			if c.def != fc.content.maxDef || r.def != fc.role.maxDef {
				return nil, nil, false // a null message, content or role
			}
			if k > 0 && (c.rep != int32(fc.rep.repDepth) || r.rep != c.rep) {
				return nil, nil, false
			}
			role, ok := fastRole(r.s)
			if !ok {
				return nil, nil, false
			}
			msgs[k] = Message{Role: role, Content: c.s}
			if c.bad || r.bad {
				flag(fc)
			}
		}
		fields[fc.name] = msgs
	}
	return fields, issue, true
}

// fastRole normalizes a role as normalizeRole does, without work for the usual spellings.
func fastRole(r string) (string, bool) {
	switch r {
	case "user":
		return "user", true
	case "assistant":
		return "assistant", true
	case "system":
		return "system", true
	}
	return normalizeRole(r)
}

// genericEmpty says whether every generic column of the row is a null or empty list (align's
// meta column, mostly), which needs no assembly.
func (p *fastPlan) genericEmpty() bool {
	for i := range p.cols {
		fc := &p.cols[i]
		if !fc.generic {
			continue
		}
		if !fc.node.list {
			return false
		}
		d := int32(-1)
		for _, c := range fc.leaves {
			if len(c.ents) != 1 || d >= 0 && c.ents[0].def != d {
				return false
			}
			d = c.ents[0].def
		}
		if d < 0 || d >= int32(fc.node.children[0].defLevel) {
			return false
		}
	}
	return true
}

// emptyValue is a generic column's value when genericEmpty holds: what the generic assembly
// gives a null list (nil) and an empty one (an empty *[]any).
func (fc *fastCol) emptyValue() any {
	if fc.leaves[0].ents[0].def < int32(fc.node.defLevel) {
		return nil
	}
	return new([]any)
}
