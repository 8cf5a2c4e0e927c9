#!/usr/bin/env python3
"""Labelled documents rewritten into surface forms the corpus does not contain.

Each variant changes how the documents are written, not what they say, and moves every
gold offset with the text, so `fintag eval` on the output measures what the change costs
(README "On text it has never seen", `make eval-robustness`):

  links          one line with a web or e-mail address added at the end: a plain line (a
                 report to download, an investor-relations page, a source, a press
                 contact) to a document without PROMO, a call to action whose whole line
                 is PROMO to a promotional one (the corpus has no address at all)
  caps-headline  the first line in capitals, as promotional mails and tickers write it
  soft-hyphen    a soft hyphen inside every word of 12 or more small letters, as web
                 pages carry them
  nbsp           a no-break space between a number and its unit ("3,5 Prozent")
  crlf           Windows line ends
  quotes         typewriter quotes instead of „…“ and ‚…‘
  bold           every company, security and product name in Markdown bold (**…**), as
                 forum and chat posts write them
  wrap72         paragraphs cut into lines of at most 72 characters, as plain-text mail
                 sends them (a space becomes the line break)
  lowercase      everything in small letters, as some forum posts are written
  quoted-mail    every line behind "> ", as a reply or forwarded mail quotes it
  double-space   two spaces after every sentence end, as typewriter habit and copied
                 text have them
  ascii-umlauts  ä, ö, ü and ß written ae, oe, ue and ss, as text from systems or
                 keyboards without them is
  nfd            letters with accents decomposed (NFD: "u" and a combining diaeresis for
                 "ü"), as text from macOS file names and some PDFs is
  html-entities  "&", quotes, no-break spaces and umlauts as HTML character references
                 ("&amp;", "&bdquo;", "&nbsp;", "&uuml;"), as scraped text left unescaped

    scripts/perturb.py VARIANT OUT.jsonl INPUT.jsonl...
"""
import json
import re
import sys

# {site} is made from the document id, so the addresses differ between documents.
PLAIN_LINKS = [
    "Der vollständige Bericht steht unter https://www.{site}.de/berichte/bericht-2026.pdf zum Download bereit.",
    "Weitere Informationen: www.{site}.de/investor-relations",
    "Quelle: https://www.{site}-nachrichten.de/artikel/{site}-meldung",
    "Kontakt für Rückfragen: presse@{site}.de",
]
CALL_LINKS = [
    "Fordern Sie den Gratis-Report jetzt an: www.{site}-report.de/anfordern",
    "Hier geht es zur kostenlosen Anmeldung: https://{site}-signale.de/start?code=BONUS",
]
QUOTES = {"„": '"', "“": '"', "”": '"', "‚": "'", "‘": "'", "’": "'"}


def rewritten(doc, inserted):
    """The document with `inserted[i]` written before its i-th code point (one entry more for
    the end) and every offset moved along: a sentence starts at what is inserted before it,
    a span after it; both end before what is inserted at their end."""
    starts, pos = [], 0
    for i, before in enumerate(inserted):
        starts.append(pos)
        pos += len(before) + (1 if i < len(doc["text"]) else 0)
    text = "".join(before + c for before, c in zip(inserted, doc["text"])) + inserted[-1]
    new = dict(doc, text=text)
    new["spans"] = [dict(s, start=starts[s["start"]] + len(inserted[s["start"]]), end=starts[s["end"]]) for s in doc["spans"]]
    if "sentences" in doc:
        new["sentences"] = [dict(s, start=starts[s["start"]], end=starts[s["end"]]) for s in doc["sentences"]]
    return new


def expanded(doc, parts):
    """The document with its i-th code point written as `parts[i]` (one or more code points)
    and every offset moved along: what stands for a code point belongs to every span and
    sentence the code point belongs to."""
    pos = [0]
    for p in parts:
        pos.append(pos[-1] + len(p))
    new = dict(doc, text="".join(parts))
    for layer in ("spans", "sentences"):
        if layer in doc:
            new[layer] = [dict(s, start=pos[s["start"]], end=pos[s["end"]]) for s in doc[layer]]
    return new


def with_link(doc, n):
    site = re.sub(r"[^a-z0-9]", "", doc["id"].lower()) or "firma"
    promo = any(s["label"] == "PROMO" for s in doc["spans"])
    pool = CALL_LINKS if promo else PLAIN_LINKS
    text = doc["text"].rstrip()
    start = len(text) + 2
    text = text + "\n\n" + pool[n % len(pool)].format(site=site)
    new = dict(doc, text=text, spans=[s for s in doc["spans"] if s["end"] <= start - 2])
    if promo:
        new["spans"].append({"start": start, "end": len(text), "label": "PROMO"})
    if "sentences" in doc:
        new["sentences"] = doc["sentences"] + [{"start": start, "end": len(text), "sentiment": "neutral"}]
    return new


def wrapped(text, width=72):
    """Greedy wrapping: the last space before a line grows past `width` becomes a break."""
    out, column, space = list(text), 0, -1
    for i, c in enumerate(text):
        if c == "\n":
            column, space = 0, -1
            continue
        if c == " ":
            space = i
        column += 1
        if column > width and space >= 0:
            out[space] = "\n"
            column, space = i - space, -1
    return "".join(out)


def variant(name, doc, n):
    t = doc["text"]
    if name == "links":
        return with_link(doc, n)
    if name == "caps-headline":
        first = t.find("\n") if "\n" in t else len(t)
        return dict(doc, text="".join(c.upper() if i < first and len(c.upper()) == 1 else c for i, c in enumerate(t)))
    if name == "quotes":
        return dict(doc, text="".join(QUOTES.get(c, c) for c in t))
    if name == "nbsp":
        unit = lambda i: i + 1 < len(t) and (t[i + 1].isalpha() or t[i + 1] in "%€$")
        return dict(doc, text="".join("\u00a0" if c == " " and i > 0 and t[i - 1].isdigit() and unit(i) else c for i, c in enumerate(t)))
    if name == "crlf":
        return rewritten(doc, ["\r" if c == "\n" else "" for c in t] + [""])
    if name == "soft-hyphen":
        at = {m.start() + 6 for m in re.finditer(r"[a-zäöüß]{12,}", t)}
        return rewritten(doc, ["\u00ad" if i in at else "" for i in range(len(t))] + [""])
    if name == "bold":
        marks = [""] * (len(t) + 1)
        for s in doc["spans"]:
            if s["label"] in ("ORG", "INSTRUMENT", "PRODUCT"):
                marks[s["start"]], marks[s["end"]] = "**", "**"
        return rewritten(doc, marks)
    if name == "wrap72":
        return dict(doc, text=wrapped(t))
    if name == "quoted-mail":
        new = rewritten(doc, ["> " if i == 0 or t[i - 1] == "\n" else "" for i in range(len(t))] + [""])
        # a quoted line's sentence begins after its quote mark
        quoted = lambda s: dict(s, start=s["start"] + 2) if new["text"][s["start"] : s["start"] + 2] == "> " else s
        return dict(new, sentences=[quoted(s) for s in new.get("sentences", [])])
    if name == "double-space":
        # before the blank that parts two sentences of a line
        gaps = {s["start"] - 1 for s in doc["sentences"] if s["start"] > 0 and t[s["start"] - 1] == " "}
        return rewritten(doc, [" " if i in gaps else "" for i in range(len(t))] + [""])
    if name == "ascii-umlauts":
        pairs = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
        return expanded(doc, [pairs.get(c, c) for c in t])
    if name == "nfd":
        import unicodedata
        return expanded(doc, [unicodedata.normalize("NFD", c) for c in t])
    if name == "html-entities":
        refs = {"&": "&amp;", "„": "&bdquo;", "“": "&ldquo;", "”": "&rdquo;", "\u00a0": "&nbsp;", "ä": "&auml;", "ö": "&ouml;",
                "ü": "&uuml;", "Ä": "&Auml;", "Ö": "&Ouml;", "Ü": "&Uuml;", "ß": "&szlig;"}
        return expanded(doc, [refs.get(c, c) for c in t])
    if name == "lowercase":
        return dict(doc, text="".join(c.lower() if len(c.lower()) == 1 else c for c in t))
    sys.exit(f"unknown variant {name!r}\n{__doc__}")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    name, out_path, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
    written = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for path in inputs:
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(l for l in f if l.strip()):
                    out.write(json.dumps(variant(name, json.loads(line), n), ensure_ascii=False) + "\n")
                    written += 1
    print(f"{out_path}: {written} documents ({name})", file=sys.stderr)


if __name__ == "__main__":
    main()
