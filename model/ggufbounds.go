package model

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// checkGGUFLengths walks a GGUF header (the key/value section and the tensor infos) and refuses
// any length it declares beyond the bytes the file has left: a string, an array's element
// count, a tensor's dimension count. ollama's fs/ggml, which decodes the header afterwards,
// allocates what the header declares before it reads (make([]T, n) for an array of n), so a
// corrupt count of 2³¹ would end the process with a fatal "out of memory", which no recover
// catches (FuzzLoadGGUF found it). This is a bounds check, not a reader: the values are
// skipped, and what it does not understand (an unknown value type) is left for fs/ggml to report. It reads the header as fs/ggml does: either byte order, version
// 1 with 32-bit counts, any other version with 64-bit ones.
func checkGGUFLengths(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	defer f.Seek(0, io.SeekStart)
	w := &boundsWalker{r: bufio.NewReader(f), size: st.Size()}
	return w.header()
}

type boundsWalker struct {
	r     *bufio.Reader
	size  int64
	off   int64
	v1    bool // GGUF v1: 32-bit counts and lengths
	order binary.ByteOrder
}

var errStop = errors.New("stop") // a header the walker leaves to fs/ggml

func (w *boundsWalker) header() error {
	var b [4]byte
	if _, err := io.ReadFull(w.r, b[:]); err != nil {
		return nil // fs/ggml reports it
	}
	switch string(b[:]) { // fs/ggml reads either byte order
	case "GGUF":
		w.order = binary.LittleEndian
	case "FUGG":
		w.order = binary.BigEndian
	default:
		return nil
	}
	w.off = 4
	v, err := w.u32()
	if err != nil {
		return nil
	}
	w.v1 = v == 1 // fs/ggml reads any other version as v2/v3: 64-bit counts
	nt, err := w.count()
	if err != nil {
		return nil
	}
	nkv, err := w.count()
	if err != nil {
		return nil
	}
	if err := w.fits("key/value count", nkv, 12); err != nil {
		return err
	}
	for range nkv {
		if err := w.str("key"); err != nil {
			return w.result(err)
		}
		t, err := w.u32()
		if err != nil {
			return nil
		}
		if err := w.value(t, "value"); err != nil {
			return w.result(err)
		}
	}
	if err := w.fits("tensor count", nt, 24); err != nil {
		return err
	}
	for range nt {
		if err := w.str("tensor name"); err != nil {
			return w.result(err)
		}
		dims, err := w.u32()
		if err != nil {
			return nil
		}
		if err := w.fits("tensor dimension count", uint64(dims), 8); err != nil {
			return err
		}
		if err := w.skip("tensor info", uint64(dims)*8+12); err != nil { // shape, kind, offset
			return nil
		}
	}
	return nil
}

// result turns the walk's stop (end of file, a type it does not know) into nil: fs/ggml
// reports those.
func (w *boundsWalker) result(err error) error {
	if errors.Is(err, errStop) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// fits refuses n items of at least each bytes beyond the bytes left.
func (w *boundsWalker) fits(what string, n, each uint64) error {
	left := uint64(max(w.size-w.off, 0))
	if n > left/each {
		return fmt.Errorf("the header declares a %s of %d at byte %d, more than the %d bytes left", what, n, w.off, left)
	}
	return nil
}

func (w *boundsWalker) u32() (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(w.r, b[:]); err != nil {
		return 0, err
	}
	w.off += 4
	return w.order.Uint32(b[:]), nil
}

func (w *boundsWalker) count() (uint64, error) {
	if w.v1 {
		n, err := w.u32()
		return uint64(n), err
	}
	var b [8]byte
	if _, err := io.ReadFull(w.r, b[:]); err != nil {
		return 0, err
	}
	w.off += 8
	return w.order.Uint64(b[:]), nil
}

// skip passes n bytes, refusing an n (of what) beyond the bytes left.
func (w *boundsWalker) skip(what string, n uint64) error {
	if err := w.fits(what, n, 1); err != nil {
		return err
	}
	if _, err := w.r.Discard(int(n)); err != nil {
		return err
	}
	w.off += int64(n)
	return nil
}

func (w *boundsWalker) str(what string) error {
	n, err := w.count()
	if err != nil {
		return err
	}
	return w.skip(what+" length", n)
}

// ggufSizes are the byte sizes of GGUF's fixed-size value types (0–7, 10–12).
var ggufSizes = map[uint32]uint64{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

func (w *boundsWalker) value(t uint32, what string) error {
	if n, ok := ggufSizes[t]; ok {
		return w.skip(what, n)
	}
	switch t {
	case 8: // string
		return w.str(what)
	case 9: // array
		et, err := w.u32()
		if err != nil {
			return err
		}
		n, err := w.count()
		if err != nil {
			return err
		}
		if size, ok := ggufSizes[et]; ok {
			if err := w.fits("array count", n, size); err != nil {
				return err
			}
			return w.skip("array", n*size)
		}
		if et != 8 {
			return errStop
		}
		if err := w.fits("string array count", n, 8); err != nil { // each string has its length
			return err
		}
		for range n {
			if err := w.str("string in an array"); err != nil {
				return err
			}
		}
		return nil
	}
	return errStop
}
