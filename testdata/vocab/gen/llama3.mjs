// Writes ../realvocab-llama3.2.out: the ids of each text of ../realvocab.inp under the Llama 3
// tokenizer of the npm package llama3-tokenizer-js 1.2.0 (MIT; its own JavaScript BPE with the
// Llama 3 vocabulary baked in, not ollama's code), no BOS/EOS, one line of ids per text.
// Usage: npm install llama3-tokenizer-js@1.2.0 && node llama3.mjs
import { readFileSync, writeFileSync } from "node:fs";
import llama3Tokenizer from "llama3-tokenizer-js";

const SEP = "\n__ggml_vocab_test__\n";
const texts = readFileSync("../realvocab.inp", "utf8").split(SEP).slice(0, -1);
const lines = texts.map((t) => llama3Tokenizer.encode(t, { bos: false, eos: false }).join(" "));
writeFileSync("../realvocab-llama3.2.out", lines.join("\n") + "\n");
console.log(texts.length, "texts");
