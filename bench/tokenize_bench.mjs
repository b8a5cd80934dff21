// HF tokenizers' side of bench/tokenize_bench.sh: encodes one file with add_special_tokens=True and
// prints "<tokens> <seconds>" (encode time only, load excluded; best of RUNS).
// usage: node bench/tokenize_bench.mjs NODE_MODULES_DIR TOKENIZER_JSON TEXT_FILE [RUNS]
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';

const [nm, tokJson, textFile, runsArg] = process.argv.slice(2);
const require = createRequire(path.resolve(nm) + '/');
const { Tokenizer } = require('@anush008/tokenizers');
const tok = Tokenizer.fromFile(tokJson);
const text = fs.readFileSync(textFile, 'utf8');
let best = Infinity, n = 0;
for (let r = 0; r < Number(runsArg || 3); r++) {
  const t0 = process.hrtime.bigint();
  const enc = await tok.encode(text, null, { addSpecialTokens: true });
  const t1 = process.hrtime.bigint();
  n = enc.getLength();
  best = Math.min(best, Number(t1 - t0) / 1e9);
}
console.log(`${n} ${best.toFixed(4)}`);
