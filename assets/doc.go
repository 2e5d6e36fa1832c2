// Package assets embeds the files that let align run with nothing else installed: the tiny
// stories260K model (Andrej Karpathy's llama2.c tinyllamas, MIT licence, see LICENSE.llama2c)
// and small demonstration datasets of story openings, pairs and ranked lists made from it.
// Recipes name them with the `asset:` prefix; Resolve is the one reading of it (the embedded
// file, written once into a cache directory, else a path on disk), for every path field.
package assets
