// Builds the tokenizer golden files tests/data/tok/<name>/golden.jsonl(.gz) from Hugging Face tokenizers
// (the Rust library, through the npm package @anush008/tokenizers, tokenizers 0.22.2).
//
// usage: node tests/gen/make_tok_golden.mjs NODE_MODULES_DIR [name...]
//   NODE_MODULES_DIR holds @anush008/tokenizers (npm install @anush008/tokenizers in a scratch folder).
//
// Each line of golden.jsonl is one case:
//   {"in": text, "ids": ids with special tokens, "ids_ns": ids without, "dec": decode(ids, skip=false),
//    "dec_skip": decode(ids, skip=true)}
// The inputs are deterministic (a seeded PRNG): hand-written adversarial strings, the tokenizer's own
// special and added tokens in context, and random mixes of scripts, emoji, marks and whitespace.
// NUL and lone surrogates are left out (cJSON strings end at NUL; lone surrogates are not UTF-8).
import fs from 'fs';
import os from 'os';
import path from 'path';
import zlib from 'zlib';
import { createRequire } from 'module';

const nm = process.argv[2];
if (!nm) { console.error('usage: make_tok_golden.mjs NODE_MODULES_DIR [name...]'); process.exit(2); }
const require = createRequire(path.resolve(nm) + '/');
const { Tokenizer } = require('@anush008/tokenizers');
const here = path.dirname(new URL(import.meta.url).pathname);
const dataDir = path.resolve(here, '../data/tok');
const names = process.argv.length > 3 ? process.argv.slice(3)
  : ['llama3', 'qwen3', 'llama2', 'gemma3', 'deepseek_v3', 'gptoss', 'synth_meta', 'synth_gpt2', 'synth_wp'];
const N_RANDOM = 900, N_RANDOM_SYNTH = 350;

// The files of tests/data/tok over 64 KB are committed gzip-compressed (FILE.gz: ../data/tok/README.md):
// tokenizerJson(dir) is the path of a plain tokenizer.json for folder `dir` (unpacked into a scratch
// folder when compressed); writeGz writes FILE.gz (and removes a plain FILE).
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-golden-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
function tokenizerJson(dir) {
  const plain = path.join(dir, 'tokenizer.json');
  if (fs.existsSync(plain) || !fs.existsSync(plain + '.gz')) return plain;
  const out = path.join(scratch, path.basename(dir) + '.json');
  if (!fs.existsSync(out)) fs.writeFileSync(out, zlib.gunzipSync(fs.readFileSync(plain + '.gz')));
  return out;
}
function writeGz(file, text) {
  fs.writeFileSync(file + '.gz', zlib.gzipSync(Buffer.from(text, 'utf8'), { level: 9 }));
  fs.rmSync(file, { force: true });
}

// ---- synthetic tokenizers: small vocabularies cut from the real ones, with the pipeline components the
// six real tokenizers do not use (Metaspace, Lowercase, NFKC/NFD, Strip, regex Replace, Digits,
// Punctuation, Whitespace, Split behaviours and invert, ByteLevel with add_prefix_space and its regex,
// unk without byte fallback, subword prefix and suffix, lstrip/rstrip/single_word added tokens,
// TemplateProcessing with EOS, RobertaProcessing, Metaspace/Strip/regex Replace decoders).
function cutVocab(src, nMerges, mapTok = (t) => t) {
  const j = JSON.parse(fs.readFileSync(tokenizerJson(path.join(dataDir, src)), 'utf8'));
  const merges = j.model.merges.slice(0, nMerges).map((m) => (typeof m === 'string' ? m.split(' ') : m));
  const toks = new Set();
  for (const [tok] of Object.entries(j.model.vocab)) if ([...tok].length === 1) toks.add(tok);
  for (const [a, b] of merges) { toks.add(a); toks.add(b); toks.add(a + b); }
  const vocab = {};
  let id = 0;
  for (const t of ['<unk>', '<s>', '</s>']) vocab[t] = id++;
  for (const t of toks) { const m = mapTok(t); if (!(m in vocab)) vocab[m] = id++; }
  return { vocab, merges, nextId: id };
}
const added = (id, content, o = {}) => ({ id, content, single_word: false, lstrip: false, rstrip: false,
  normalized: false, special: true, ...o });
function writeSynth(name, tj) {
  const d = path.join(dataDir, name);
  fs.mkdirSync(d, { recursive: true });
  writeGz(path.join(d, 'tokenizer.json'), JSON.stringify(tj));
  fs.writeFileSync(path.join(d, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>' }));
}
function makeSynth() {
  { // SentencePiece-like, with Metaspace and normalizers
    const { vocab, merges, nextId } = cutVocab('llama2', 3000);
    writeSynth('synth_meta', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>'),
        added(nextId, '<mask>', { lstrip: true, rstrip: true }),
        added(nextId + 1, '[ME]', { single_word: true, special: false, normalized: true }),
        added(nextId + 2, 'Hello World', { special: false, normalized: true })],
      normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' },
        { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }, { type: 'Lowercase' },
        { type: 'Strip', strip_left: true, strip_right: false }] },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true },
        { type: 'Punctuation', behavior: 'MergedWithPrevious' },
        { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true }] },
      post_processor: { type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '</s>', type_id: 0 } }],
        pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } } },
      decoder: { type: 'Sequence', decoders: [{ type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
        { type: 'Strip', content: ' ', start: 2, stop: 0 }, { type: 'Replace', pattern: { Regex: 'x+' }, content: 'X' }] },
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
    });
  }
  { // GPT-2-like: ByteLevel with a prefix space and its own regex, Roberta post-processing
    const { vocab, merges, nextId } = cutVocab('qwen3', 4000);
    writeSynth('synth_gpt2', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [added(1, '<s>'), added(2, '</s>'), added(nextId, '<|sep|>', { rstrip: true })],
      normalizer: { type: 'NFD' },
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 1], trim_offsets: true, add_prefix_space: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
    });
  }
  { // word-piece-like BPE: subword prefix, Whitespace and Split behaviours, fused unk
    const strip = (t) => t.replace(/▁/g, '');
    const src = cutVocab('llama2', 2500);
    const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
    let id = 3;
    const put = (t) => { if (t && !(t in vocab)) vocab[t] = id++; };
    const merges = [];
    for (const t of Object.keys(src.vocab)) { put(strip(t)); put('##' + strip(t)); }
    for (const [a, b] of src.merges) {
      const A = strip(a), B = strip(b);
      if (!A || !B) continue;
      for (const [x, y] of [[A, '##' + B], ['##' + A, '##' + B]]) { put(x); put(y); put(x + y.slice(2)); merges.push(`${x} ${y}`); }
    }
    writeSynth('synth_wp', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
      normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'Lowercase' }, { type: 'Prepend', prepend: '~' }] },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { String: '-' }, behavior: 'MergedWithNext', invert: false },
        { type: 'Split', pattern: { Regex: '[0-9]' }, behavior: 'Contiguous', invert: false },
        { type: 'Split', pattern: { Regex: '[aeiou]' }, behavior: 'Removed', invert: true },
        { type: 'Whitespace' }, { type: 'Split', pattern: { String: 'q' }, behavior: 'Removed', invert: false }] },
      post_processor: { type: 'BertProcessing', sep: ['</s>', 2], cls: ['<s>', 1] },
      decoder: null,
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: '##', end_of_word_suffix: null,
        fuse_unk: true, byte_fallback: false, ignore_merges: false, vocab, merges },
    });
  }
}
if (names.some((n) => n.startsWith('synth_'))) makeSynth();

// mulberry32: a small deterministic PRNG
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fixed = [
  '', ' ', '  ', '   ', '\t', '\n', '\r\n', '\n\n\n', ' \n ', '\t\t x', 'a  b   c    d', '  leading', 'trailing  ',
  'line1\r\nline2\r\n\r\nline3', 'tab\tsep\tvalues\t', 'mixed \t\n\r\u000b\f whitespace', '\u00a0nbsp\u00a0x',
  '\u3000ideographic space\u3000', '\u2028line sep\u2029para', 'x\u200bzero\u200cwidth\u200djoin',
  'Hello world', 'hello World!', 'HELLO WORLD', "I'm", "I'M", "don't", "DON'T", "we've", "they're", "she'll",
  "he'd", "it's", "It'S", "y'all'd've", "rock'n'roll", "'s", "''", "'", "' s", 'O\u2019Neil\u2019s',
  '0', '1', '12', '123', '1234', '12345', '123456789012345678901234567890', '3.14159', '-42', '1,000,000',
  '2024-01-01T12:00:00Z', '0x1F600', '١٢٣٤٥', '१२३४', '①②③', '½ ¾', 'Ⅻ', '𝟘𝟙𝟚',
  'def f(x):\n    return x**2  # square\n', 'int main(void) { return 0; }', '    indented\n\tcode',
  'for (i = 0; i < n; i++) {\n\ta[i] += b[i];\n}', '<html><body class="x">Hi</body></html>',
  '{"key": [1, 2, {"n": null}]}', 'SELECT * FROM t WHERE id=1;', '$ ls -la | grep foo && echo ok',
  'https://example.com/path?q=1&r=two#frag', 'user@example.org', 'C:\\Windows\\System32', '~/.config/x.yml',
  '😀', '😀😀😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷🇯🇵', '❤️', '🤷🏾‍♀️ ok', 'a😀b', ' 😀 ', '🫠🫥🪿',
  '中文', '你好，世界！', '日本語のテキストです。', 'カタカナ ひらがな 漢字', '한국어 텍스트', '한국어',
  'مرحبا بالعالم', 'السلام عليكم', 'नमस्ते दुनिया', 'हिन्दी', 'สวัสดีชาวโลก', 'ภาษาไทย', 'Привет мир', 'Ελληνικά',
  'עברית', 'ქართული', 'Tiếng Việt có dấu', 'ሰላም', 'ᚠᚢᚦ', '𐍈𐌰𐌹', '𓀀𓀁',
  'caf\u00e9', 'cafe\u0301', 'e\u0301\u0301\u0301', '\u00c5ngstr\u00f6m', 'A\u030angstro\u0308m', '\u212b',
  '\u1100\u1161\u11a8', '\uac01', 'ﬁ ligature', 'Ｆｕｌｌｗｉｄｔｈ', '㎏㎡', 'x\u0300\u0301\u0302\u0303y',
  'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319a\u0310\u0352\u0345lgo',
  '\u0000'.replace('\u0000', '\u0001'), '\u001b[31mred\u001b[0m', '\u007f\u0080\u009f', '\ufeffBOM', '\ufffd',
  '\uffff', '\u{10ffff}', '\u{e0001}\u{e0041}', '\u{1f3fb}', 'a\u0300', '\u0300a',
  '▁', '▁▁x', 'Ġ', 'Ċ', 'ĠĠ', '<0x41>', '<0xE2>', '<unk>', '<s>', '</s>', '<s> </s>', '<pad>', '<mask>',
  '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<think>', '</think>', '<|begin_of_text|>', '<bos>', '<eos>',
  '<start_of_turn>user\nhi<end_of_turn>', '<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n',
  '<|eot_id|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>',
  'a'.repeat(1000), 'ab'.repeat(700), '1'.repeat(500), ' '.repeat(300), '\n'.repeat(200), 'x y '.repeat(200),
  'Supercalifragilisticexpialidocious'.repeat(40), 'é'.repeat(300), '中'.repeat(400), '😀'.repeat(100),
  'pneumonoultramicroscopicsilicovolcanoconiosis', 'Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch',
  'The quick brown fox jumps over the lazy dog.', 'The quick brown fox\njumps over\n\nthe lazy dog.\n',
  'What\'s the weather like in San Francisco today?', 'Write a haiku about recursion in programming.',
  '...', '!!!', '???', '?!', '—', '–', '…', '« guillemets »', '„quotes“', '(parens) [brackets] {braces}',
  '@#$%^&*()_+-=[]{}|;:,.<>/?`~', '////', '\\\\', '"quoted"', '`code`', '***bold***', '# Heading\n\n- item\n',
  'a\u0085b', ' \u0085 ', '\u0085\n', 'x\u180ey', "it'\u017f", "IT'\u017fS", "we'LL", '\u212a', 'x  <mask>  y', '[ME] x[ME]',
  'hello world', 'HELLO   WORLD', 'pre-fix-ed', 'a1b22c333', 'qqq quick', 'x-ray 10-20', 'ab\u00adcd',
];

const pools = {
  ascii: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  punct: ".,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`",
  ws: [' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\r', '\u00a0', '\u3000', '\u2003'],
  words: ["the", "The", "a", "and", "token", "izer", "don't", "I'm", "we'll", "You'RE", "HTTP", "json",
    "naïve", "résumé", "Straße", "über", "日本", "東京", "北京", "서울", "القاهرة", "दिल्ली", "กรุงเทพ",
    "Москва", "Αθήνα", "😀", "🚀", "👩‍💻", "👋🏿", "🇺🇸", "x²", "∑", "→", "©", "™", "\u0301", "\u200d",
    "ﬀ", "Ⅳ", "𝔘𝔫𝔦", "ǅ", "İstanbul", "ß", "ẞ", "Σίσυφος", "ﷺ", "\ufe0f", "e\u0301", "\u1100\u1161"],
};
const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x5ff],
  [0x600, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x1100, 0x11ff], [0x2000, 0x206f], [0x2190, 0x23ff],
  [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe00, 0xfe0f], [0xff00, 0xffef],
  [0x1f300, 0x1faff], [0x1d400, 0x1d7ff], [0x20000, 0x2a6df], [0xe0000, 0xe007f], [0x1, 0x1f]];

function randomCase(r, specials) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const parts = [];
  const n = 1 + Math.floor(r() * 12);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.25) parts.push(pick(pools.words));
    else if (k < 0.4) { let s = ''; const m = 1 + Math.floor(r() * 8); for (let j = 0; j < m; j++) s += pick(pools.ascii); parts.push(s); }
    else if (k < 0.5) { let s = ''; const m = 1 + Math.floor(r() * 7); for (let j = 0; j < m; j++) s += pick(pools.digits); parts.push(s); }
    else if (k < 0.6) parts.push(pick(pools.punct) + (r() < 0.3 ? pick(pools.punct) : ''));
    else if (k < 0.75) parts.push(pick(pools.ws));
    else if (k < 0.83 && specials.length) parts.push(pick(specials));
    else {
      const [lo, hi] = pick(ranges);
      let s = ''; const m = 1 + Math.floor(r() * 5);
      for (let j = 0; j < m; j++) {
        const cp = lo + Math.floor(r() * (hi - lo + 1));
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        s += String.fromCodePoint(cp);
      }
      parts.push(s);
    }
    if (r() < 0.4) parts.push(' ');
  }
  return parts.join('');
}

for (const name of names) {
  const dir = path.join(dataDir, name);
  const tok = Tokenizer.fromFile(tokenizerJson(dir));
  const tj = JSON.parse(fs.readFileSync(tokenizerJson(dir), 'utf8'));
  // the tokenizer's own added tokens (a spread of them), bare and in context
  const added = tj.added_tokens.map((t) => t.content);
  const step = Math.max(1, Math.floor(added.length / 40));
  const specials = added.filter((_, i) => i % step === 0 || i < 8);
  const cases = [...fixed];
  for (const s of specials) {
    cases.push(s, ` ${s} `, `x${s}y`, `${s}${s}`, `  ${s}\n`, `Hello ${s} world`);
  }
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const r = rng(0x5eed ^ h);
  const nr = name.startsWith('synth_') ? N_RANDOM_SYNTH : N_RANDOM;
  for (let i = 0; i < nr; i++) cases.push(randomCase(r, specials));
  const out = [];
  for (const text of cases) {
    const e1 = await tok.encode(text, null, { addSpecialTokens: true });
    const e2 = await tok.encode(text, null, { addSpecialTokens: false });
    const ids = e1.getIds();
    const dec = await tok.decode(ids, false);
    const decSkip = await tok.decode(ids, true);
    out.push(JSON.stringify({ in: text, ids, ids_ns: e2.getIds(), dec, dec_skip: decSkip }));
  }
  writeGz(path.join(dir, 'golden.jsonl'), out.join('\n') + '\n');
  console.log(`${name}: ${out.length} cases`);
}
