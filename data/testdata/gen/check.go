package main

import (
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// check reads a Parquet file (one align wrote) with arrow-go and prints its Arrow schema, its
// row count and its first row, to confirm that another implementation reads it.
func check(path string) error {
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return err
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return err
	}
	defer tbl.Release()
	fmt.Printf("rows %d, row groups %d\n%s\n", tbl.NumRows(), rdr.NumRowGroups(), tbl.Schema())
	for i := 0; i < int(tbl.NumCols()); i++ {
		col := tbl.Column(i)
		if col.Len() > 0 {
			s := col.Data().Chunk(0).String()
			if len(s) > 160 {
				s = s[:160] + "…"
			}
			fmt.Printf("  %s: %s\n", col.Name(), s)
		}
	}
	return nil
}

func init() {
	if len(os.Args) == 3 && os.Args[1] == "-check" {
		if err := check(os.Args[2]); err != nil {
			fail(err)
		}
		os.Exit(0)
	}
}
