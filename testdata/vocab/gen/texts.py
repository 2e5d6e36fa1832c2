#!/usr/bin/env python3
"""Writes ../realvocab.inp: the texts of the real-vocabulary tokenizer tests.

llama.cpp's 46 tokenizer test texts (models/ggml-vocab-llama-bpe.gguf.inp, MIT), a few
chat-format and whitespace texts, then every 60th paragraph of War and Peace (public domain,
from ollama v0.17.4's tokenizer/testdata/war-and-peace.txt) and its first 16 KiB whole.
Texts are separated as llama.cpp's .inp files are: "\n__ggml_vocab_test__\n".
Usage: python3 texts.py LLAMACPP_INP WAR_AND_PEACE_TXT
"""
import sys

SEP = "\n__ggml_vocab_test__\n"
llama_inp, wp = sys.argv[1], sys.argv[2]
texts = open(llama_inp, encoding="utf-8").read().split(SEP)
if texts[-1] == "":
    texts = texts[:-1]
texts += [
    "Hello\tworld\n\n\nand   three spaces",
    "  leading and trailing  ",
    "\n\nnewlines first",
    "tabs\t\t\tand\r\ncarriage returns\r\n",
    "Ünïcödé: naïve café, Straße, İstanbul, ǅ",
    "数字 1234567890 and 3.14159",
]
book = open(wp, encoding="utf-8").read()
paras = [p for p in book.split("\n\n") if p.strip()]
texts += paras[::60]
texts.append(book[:16384])
out = open("../realvocab.inp", "w", encoding="utf-8", newline="")
for t in texts:
    assert SEP not in t
    out.write(t + SEP)
print(len(texts), "texts")
