#!/usr/bin/env python3
"""Writes ../realvocab-gemma2.out: the ids Google's SentencePiece gives each text of
../realvocab.inp with the Gemma-2 tokenizer.model of ollama v0.17.4's tokenizer/testdata
(no BOS/EOS), one line of ids per text, as llama.cpp's .out files.
Made with Debian's python3-sentencepiece 0.1.97 (/usr/bin/python3).
Usage: python3 gemma2.py TOKENIZER_MODEL
"""
import sys

import sentencepiece

SEP = "\n__ggml_vocab_test__\n"
sp = sentencepiece.SentencePieceProcessor(model_file=sys.argv[1])
texts = open("../realvocab.inp", encoding="utf-8", newline="").read().split(SEP)[:-1]
with open("../realvocab-gemma2.out", "w", encoding="utf-8") as out:
    for t in texts:
        out.write(" ".join(str(i) for i in sp.encode(t)) + "\n")
print(len(texts), "texts, sentencepiece", sentencepiece.__version__)
