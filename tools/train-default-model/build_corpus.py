#!/usr/bin/env python3
"""Builds the training corpus of the default model from freely licensed English text shipped by Debian.

Python 3 standard library only. Needs `apt-get download` (any Debian or Ubuntu machine that reaches the
archive; no root: the packages are only unpacked with dpkg-deb -x, never installed), or --debs DIR with the
.deb files already there. The exact package versions are written to the output's sources.json, and the
SHA-256 of every output file to SHA256SUMS, so a rebuild can be checked against corpus.sha256 here
(`cd OUT && sha256sum -c corpus.sha256`). The versions are pinned (PINNED); --any-version builds from
whatever the archive has, which gives a different corpus.

Sources (licences from each package's debian/copyright, recorded in the model card):
  bible-kjv-text + bible-kjv  King James Bible (1611), public domain; `bible` decodes the data file
  wordnet-base                WordNet 3.0 glosses and examples, WordNet 3.0 licence (BSD-like, Princeton)
  python3.11-doc              Python documentation sources (_sources/*.rst.txt), PSF licence
  fortunes, fortunes-min      fortune(6) cookie files (.u8), BSD licence
GPL-licensed dictionaries (dict-gcide) and manuals (linux-doc) are left out so that the weights carry no
copyleft question into an MIT repository.

Output (in --out):
  pretrain.jsonl   {"src", "text"}: documents for the language-model stage
  sft.jsonl        {"src", "q", "a"}: question/answer pairs for the instruction stage
  heldout.txt      documents kept out of both (about 1 in 50 of each source, the sources taking turns),
                   for perplexity
  heldout_words.txt  words whose definitions are held out of the instruction stage
  sources.json     package names, versions, licences, document counts
Usage:
  python3 build_corpus.py --out /tmp/corpus [--debs DIR]
"""
import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys

# Debian 12 (bookworm) versions the shipped model was trained from; older ones stay on snapshot.debian.org.
PINNED = {"bible-kjv-text": "4.38", "bible-kjv": "4.38", "wordnet-base": "1:3.0-37",
          "python3.11-doc": "3.11.2-6+deb12u9", "fortunes": "1:1.99.1-7.3", "fortunes-min": "1:1.99.1-7.3"}
PACKAGES = list(PINNED)
LICENCES = {
    "bible-kjv-text": "King James Version text: public domain (copyright expired; Crown rights apply in the UK only)",
    "bible-kjv": "used only to decode the text (GPL-2+ program, not part of the corpus)",
    "wordnet-base": "WordNet 3.0 licence (Princeton University; permissive, BSD-like)",
    "python3.11-doc": "Python Software Foundation License Version 2 (documentation)",
    "fortunes": "BSD licence (fortune-mod)",
    "fortunes-min": "BSD licence (fortune-mod)",
}
SEED = 20240917
HOLDOUT_EVERY = 50  # one document in 50 is held out (by a hash of its id)


def held_out(key):
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % HOLDOUT_EVERY == 0


def fetch(debs, root, allow_other):
    os.makedirs(debs, exist_ok=True)
    have = {f.split("_")[0] for f in os.listdir(debs) if f.endswith(".deb")}
    missing = [p for p in PACKAGES if p not in have]
    if missing:
        subprocess.run(["apt-get", "download"] + ["%s=%s" % (p, PINNED[p]) for p in missing], cwd=debs, check=True)
    versions = {}
    for f in sorted(os.listdir(debs)):
        name = f.split("_")[0]
        if f.endswith(".deb") and name in PACKAGES:
            path = os.path.join(debs, f)
            ver = subprocess.run(["dpkg-deb", "-f", path, "Version"], capture_output=True, text=True,
                                 check=True).stdout.strip()
            versions[name] = ver
            if ver != PINNED[name] and not allow_other:
                raise SystemExit("%s is version %s, the corpus was built from %s (--any-version to go on)" % (
                    f, ver, PINNED[name]))
            os.makedirs(os.path.join(root, name), exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", path, os.path.join(root, name)], check=True)
    return versions


# ---------------------------------------------------------------- King James Bible
BOOKS = ("Genesis Exodus Leviticus Numbers Deuteronomy Joshua Judges Ruth 1Samuel 2Samuel 1Kings 2Kings "
         "1Chronicles 2Chronicles Ezra Nehemiah Esther Job Psalms Proverbs Ecclesiastes Song Isaiah Jeremiah "
         "Lamentations Ezekiel Daniel Hosea Joel Amos Obadiah Jonah Micah Nahum Habakkuk Zephaniah Haggai "
         "Zechariah Malachi Matthew Mark Luke John Acts Romans 1Corinthians 2Corinthians Galatians Ephesians "
         "Philippians Colossians 1Thessalonians 2Thessalonians 1Timothy 2Timothy Titus Philemon Hebrews James "
         "1Peter 2Peter 1John 2John 3John Jude Revelation").split()


def kjv_chapters(root):
    """[(book, chapter, [verse text...])] in canonical order."""
    prog = os.path.join(root, "bible-kjv/usr/bin/bible")
    data = os.path.join(root, "bible-kjv-text/usr/lib")
    out = subprocess.run([prog, "-p", data, "-l100000", "Gen1:1-Rev22:21"], capture_output=True, text=True,
                         check=True, env=dict(os.environ, COLUMNS="100000")).stdout
    chapters, cur = [], None
    for line in out.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^\s+(\d+) (.*)$", line)
        if m:
            cur[2].append(m.group(2).strip())
            continue
        m = re.match(r"^(.+) (\d+)$", line.strip())
        if not m:
            raise SystemExit("unexpected line in the bible text: %r" % line)
        cur = (m.group(1), int(m.group(2)), [])
        chapters.append(cur)
    if len(chapters) != 1189:
        raise SystemExit("expected 1189 chapters, got %d" % len(chapters))
    return chapters


# ---------------------------------------------------------------- WordNet
POS_NAME = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
POS_FILES = [("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")]


def wordnet(root):
    """synsets {(pos, offset): (words, definition, [examples])},
    index {lemma: [(pos, [offsets], tagsense_cnt)]}"""
    d = os.path.join(root, "wordnet-base/usr/share/wordnet")
    synsets, index = {}, {}
    for fname, pos in POS_FILES:
        with open(os.path.join(d, "data." + fname), encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                head, _, gloss = line.partition(" | ")
                parts = head.split()
                n = int(parts[3], 16)
                words = [re.sub(r"\([a-z]+\)$", "", parts[4 + 2 * i]).replace("_", " ") for i in range(n)]
                gloss = gloss.strip()
                examples = re.findall(r'"([^"]+)"', gloss)
                definition = re.split(r';\s*"', gloss)[0].strip().rstrip(";").strip()
                synsets[(pos, parts[0])] = (words, definition, examples)
        with open(os.path.join(d, "index." + fname), encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                p = line.split()
                lemma, synset_cnt, p_cnt = p[0], int(p[2]), int(p[3])
                tagsense_cnt = int(p[5 + p_cnt])  # senses seen in WordNet's tagged texts: a common word
                offsets = p[6 + p_cnt:6 + p_cnt + synset_cnt]
                index.setdefault(lemma, []).append((pos, offsets, tagsense_cnt))
    return synsets, index


def a_or_an(pos):
    return "an" if pos[0] in "aeiou" else "a"


def definition_answer(word, senses, synsets):
    """senses: [(pos, [offsets], tagsense_cnt)] in WordNet's order (noun, verb, adjective, adverb)."""
    parts = []
    for i, (pos, offsets, _) in enumerate(senses[:2]):
        words, definition, examples = synsets[(pos, offsets[0])]
        name = POS_NAME[pos]
        if i == 0:
            s = '"%s" is %s %s. It means %s.' % (word, a_or_an(name), name, definition)
        else:
            s = "As %s %s, it means %s." % (a_or_an(name), name, definition)
        ex = [e for e in examples if word in e.lower()]
        if ex and i == 0:
            s += ' For example: "%s".' % ex[0]
        parts.append(s)
    return " ".join(parts)


QUESTIONS = [("What does the word %s mean?", 14), ("What is the meaning of the word %s?", 2),
             ("Define %s.", 2), ("What does %s mean?", 2)]


def pick_question(rng):
    total = sum(w for _, w in QUESTIONS)
    x = rng.randrange(total)
    for q, w in QUESTIONS:
        if x < w:
            return q
        x -= w
    raise AssertionError


# ---------------------------------------------------------------- Python documentation
ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`")


def rst_clean(text):
    text = ROLE.sub(lambda m: m.group(1), text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    out = []
    for line in text.splitlines():
        s = line.strip()
        if re.match(r"^\.\. (_[^:]+:|index::|highlight|sectionauthor|moduleauthor|versionadded|versionchanged)", s):
            continue
        if re.match(r"^:(noindex|synopsis|platform|deprecated|module)", s):
            continue
        if s and len(set(s)) == 1 and s[0] in "=-*~^#+":
            continue  # section underlines
        out.append(line.rstrip())
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def python_docs(root):
    base = os.path.join(root, "python3.11-doc/usr/share/doc/python3.11/html/_sources")
    docs = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        rel = os.path.relpath(dirpath, base)
        if rel.split(os.sep)[0] in ("c-api", "distutils", "includes"):
            continue
        for f in sorted(filenames):
            if f.endswith(".rst.txt") and f not in ("license.rst.txt", "copyright.rst.txt"):
                with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                    docs.append((os.path.join(rel, f), rst_clean(fh.read())))
    return docs


def python_glossary(root):
    path = os.path.join(root, "python3.11-doc/usr/share/doc/python3.11/html/_sources/glossary.rst.txt")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    entries, term, body = [], None, []
    for line in lines:
        if re.match(r"^   \S", line):
            if term and body:
                entries.append((term, body))
            term, body = line.strip(), []
        elif term and line.startswith("      "):
            body.append(line.strip())
        elif term and not line.strip():
            body.append("")
    if term and body:
        entries.append((term, body))
    out = []
    for t, b in entries:
        para = " ".join(" ".join(b).split("  ")).strip()
        first = rst_clean("\n".join(b)).split("\n\n")[0]
        first = " ".join(first.split())
        t = rst_clean(t)
        if re.match(r"^[A-Za-z][A-Za-z0-9 _.-]*$", t) and len(first) > 20 and not para.startswith("*"):
            out.append((t, first))
    return out


# ---------------------------------------------------------------- fortunes
FORTUNE_SKIP = {"ascii-art", "ethnic", "men-women", "translate-me", "zippy", "politics", "drugs", "debian",
                "knghtbrd", "perl", "linux", "linuxcookie", "computers", "art"}


def fortunes(root):
    out = []
    for pkg in ("fortunes", "fortunes-min"):
        d = os.path.join(root, pkg, "usr/share/games/fortunes")
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if not f.endswith(".u8") or f[:-3] in FORTUNE_SKIP:
                continue
            with open(os.path.join(d, f), encoding="utf-8", errors="replace") as fh:
                items = [x.strip("\n") for x in re.split(r"^%$", fh.read(), flags=re.M)]
            out.extend((f[:-3], x) for x in items if x.strip())
    return out


def words_of(text, n):
    w = text.split()
    return " ".join(w[:n]), " ".join(w[n:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--debs", default=None, help="folder with the .deb files (downloaded there if missing)")
    ap.add_argument("--any-version", action="store_true", help="accept package versions other than PINNED")
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    work = os.path.join(out, "_work")
    debs = args.debs or os.path.join(work, "debs")
    versions = fetch(debs, os.path.join(work, "root"), args.any_version)
    root = os.path.join(work, "root")
    rng = random.Random(SEED)
    pre, sft, held = [], [], {}
    counts = {}

    def add_doc(src, key, text):
        counts.setdefault(src, [0, 0])
        if held_out(src + ":" + key):
            held.setdefault(src, []).append(text)
            counts[src][1] += 1
        else:
            pre.append({"src": src, "text": text})
            counts[src][0] += 1
            return True
        return False

    # Bible: a chapter a document, verse numbers dropped; questions on verses of training chapters
    for book, ch, verses in kjv_chapters(root):
        if add_doc("kjv", "%s %d" % (book, ch), "%s, chapter %d\n\n%s" % (book, ch, " ".join(verses))):
            for v, text in enumerate(verses, 1):
                r = rng.random()
                if r < 0.12:
                    sft.append({"src": "kjv-verse", "q": "What does %s %d:%d say?" % (book, ch, v),
                                "a": "%s %d:%d says: %s" % (book, ch, v, text)})
                elif r < 0.22 and len(text.split()) > 16:
                    a, b = words_of(" ".join(verses[v - 1:v + 2]), 8)
                    sft.append({"src": "kjv-continue", "q": a, "a": b})

    # WordNet: glosses as documents of 40 synsets; definition questions from the index
    synsets, index = wordnet(root)
    keys = sorted(synsets)
    rng.shuffle(keys)
    for i in range(0, len(keys), 40):
        lines = []
        for k in keys[i:i + 40]:
            words, definition, examples = synsets[k]
            line = "%s (%s): %s" % (", ".join(words), POS_NAME[k[0]], definition)
            if examples:
                line += "; " + "; ".join('"%s"' % e for e in examples)
            lines.append(line)
        add_doc("wordnet", "%d" % i, "\n".join(lines))
    heldout_words = []
    for lemma in sorted(index):
        if not re.match(r"^[a-z]{3,}$", lemma):
            continue
        if held_out("word:" + lemma):
            heldout_words.append(lemma)
            continue
        senses = sorted(index[lemma], key=lambda s: "nvar".index(s[0]))
        answer = definition_answer(lemma, senses, synsets)
        # common words (senses seen in WordNet's tagged texts) are asked three times, in varied words
        for _ in range(3 if any(t > 0 for _, _, t in senses) else 1):
            sft.append({"src": "wordnet-define", "q": pick_question(rng) % lemma, "a": answer})
        if rng.random() < 0.08:
            pos, offs, _ = senses[0]
            words = [w for w in synsets[(pos, offs[0])][0] if w.lower() != lemma]
            if words:
                sft.append({"src": "wordnet-synonym", "q": "Give a synonym for the word %s." % lemma,
                            "a": 'A synonym for "%s" is "%s".' % (lemma, words[0])})

    # Python documentation: a page a document; glossary questions; paragraph continuations
    for name, text in python_docs(root):
        if add_doc("python-doc", name, text):
            for para in text.split("\n\n"):
                p = " ".join(para.split())
                if 30 < len(p.split()) < 120 and p[0].isupper() and p.endswith(".") and rng.random() < 0.15:
                    a, b = words_of(p, 10)
                    sft.append({"src": "python-continue", "q": a, "a": b})
    for term, first in python_glossary(root):
        sft.append({"src": "python-glossary", "q": "What is %s in Python?" % (
            ("a " + term) if not term[0].isupper() and " " not in term else term), "a": first})

    # Fortunes: 20 a document; short ones as answers to "Tell me a fortune."
    fl = fortunes(root)
    for i in range(0, len(fl), 20):
        group = fl[i:i + 20]
        if add_doc("fortunes", "%s %d" % (group[0][0], i), "\n%\n".join(x for _, x in group)):
            for _, x in group:
                if len(x) < 300 and rng.random() < 0.5:
                    sft.append({"src": "fortune", "q": rng.choice(["Tell me a fortune.", "Say something wise.",
                                                                  "Tell me a quotation."]), "a": x.strip()})

    rng.shuffle(pre)
    rng.shuffle(sft)
    files = {}

    def write(name, data):
        path = os.path.join(out, name)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(data)
        files[name] = hashlib.sha256(data.encode()).hexdigest()

    write("pretrain.jsonl", "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in pre))
    write("sft.jsonl", "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in sft))
    # sources interleaved, so that any prefix of the file mixes them
    order, queues = [], [list(v) for _, v in sorted(held.items())]
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    write("heldout.txt", "\n\n".join(order) + "\n")
    write("heldout_words.txt", "\n".join(heldout_words) + "\n")
    sft_counts = {}
    for d in sft:
        sft_counts[d["src"]] = sft_counts.get(d["src"], 0) + 1
    meta = {"packages": {p: {"version": versions.get(p), "licence": LICENCES[p]} for p in PACKAGES},
            "documents": {k: {"train": v[0], "heldout": v[1]} for k, v in sorted(counts.items())},
            "sft_pairs": dict(sorted(sft_counts.items())), "seed": SEED, "holdout_every": HOLDOUT_EVERY}
    write("sources.json", json.dumps(meta, indent=1) + "\n")
    with open(os.path.join(out, "SHA256SUMS"), "w") as f:
        for name in sorted(files):
            f.write("%s  %s\n" % (files[name], name))
    sizes = {n: os.path.getsize(os.path.join(out, n)) for n in files}
    print(json.dumps({"sizes": sizes, **meta}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
