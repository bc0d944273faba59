// What the command palette offers for what was typed: the namespace's functions and the
// console's pages, ranked by how well their label matches, and an invocation by its id.
// Kept apart from the component so the matching and ranking are tested on their own.

/** An invocation id as the API writes it (domain/ids.py INVOCATION_ID_PATTERN): a ULID in
 *  lower-case Crockford base32. Pasted ids are accepted in either case. */
export const INVOCATION_ID = /^[0-9a-hjkmnp-tv-z]{26}$/;

export interface PaletteItem {
  /** What the option says, and what the typed text is matched against. */
  label: string;
  /** A second, quieter line: "Function", "Page", "Invocation". */
  kind: string;
  /** Where choosing it goes: a path of the app. */
  target: string;
}

/** The id in `text` if it is one (spaces around a pasted id are ignored), else null. */
export function invocationId(text: string): string | null {
  const id = text.trim().toLowerCase();
  return INVOCATION_ID.test(id) ? id : null;
}

// Scores: higher is better; each tier beats every score of the tiers below it.
const EXACT = 4000;
const PREFIX = 3000;
const WORD_PREFIX = 2000;
const SUBSTRING = 1000;

/**
 * How well `query` matches `label`, or null if it does not. Case is ignored. Best first:
 * the whole label, then a prefix, then the start of a word (after `-`, `_`, `.`, `/` or a
 * space), then anywhere (earlier is better), then the letters in order with gaps
 * (fuzzy: fewer and shorter gaps are better). Within a tier a shorter label wins.
 */
export function score(query: string, label: string): number | null {
  const q = query.trim().toLowerCase();
  const text = label.toLowerCase();
  if (q === "") return 0;
  if (text === q) return EXACT;
  const lengthPenalty = Math.min(text.length, 200) / 1000;
  if (text.startsWith(q)) return PREFIX - lengthPenalty;
  const at = text.indexOf(q);
  if (at >= 0) {
    const wordStart = wordStarts(text).some((start) => text.startsWith(q, start));
    if (wordStart) return WORD_PREFIX - lengthPenalty;
    return SUBSTRING - Math.min(at, 500) - lengthPenalty;
  }
  const gaps = subsequenceGaps(q, text);
  if (gaps === null) return null;
  return Math.max(1, SUBSTRING - 500 - gaps * 10) - lengthPenalty;
}

function wordStarts(text: string): number[] {
  const starts: number[] = [];
  for (let i = 1; i < text.length; i++) {
    if ("-_./ ".includes(text[i - 1] ?? "")) starts.push(i);
  }
  return starts;
}

/** The letters skipped between the query's letters found in order in `text`, or null if
 *  they are not all there. Greedy from the left: good enough for ranking names. */
function subsequenceGaps(query: string, text: string): number | null {
  let gaps = 0;
  let position = text.indexOf(query[0] ?? "");
  if (position < 0) return null;
  for (const letter of query.slice(1)) {
    const next = text.indexOf(letter, position + 1);
    if (next < 0) return null;
    gaps += next - position - 1;
    position = next;
  }
  return gaps;
}

/** The items that match `query`, best first (ties: the shorter label, then A to Z); all of
 *  them in their own order when nothing is typed. At most `limit`. */
export function rank(query: string, items: readonly PaletteItem[], limit = 50): PaletteItem[] {
  if (query.trim() === "") return items.slice(0, limit);
  const scored: { item: PaletteItem; score: number }[] = [];
  for (const item of items) {
    const found = score(query, item.label);
    if (found !== null) scored.push({ item, score: found });
  }
  scored.sort((a, b) => b.score - a.score || a.item.label.localeCompare(b.item.label));
  return scored.slice(0, limit).map(({ item }) => item);
}

/** What the palette lists: an invocation first when the text is an id, then the matches. */
export function options(query: string, items: readonly PaletteItem[], limit = 50): PaletteItem[] {
  const id = invocationId(query);
  const matches = rank(query, items, limit);
  if (id === null) return matches;
  return [{ label: `Open invocation ${id}`, kind: "Invocation", target: `/invocations/${id}` }, ...matches];
}

/** The namespace's functions as palette items. */
export function functionItems(names: readonly string[]): PaletteItem[] {
  return names.map((name) => ({
    label: name,
    kind: "Function",
    target: `/functions/${encodeURIComponent(name)}`,
  }));
}

/** The console's own pages; the operator's only for the platform admin. */
export function pageItems(platformAdmin: boolean): PaletteItem[] {
  const pages: PaletteItem[] = [
    { label: "Functions", kind: "Page", target: "/functions" },
    { label: "Namespace settings", kind: "Page", target: "/settings" },
  ];
  if (platformAdmin) {
    pages.push(
      { label: "Operator: pool", kind: "Page", target: "/operator/pool" },
      { label: "Operator: environments", kind: "Page", target: "/operator/environments" },
      { label: "Operator: health", kind: "Page", target: "/operator/health" },
    );
  }
  return pages;
}

/** On a function's page (`path` is the app's path): its Releases tab, by any of the words
 *  people look for it by. Only for the function in view, so that a name typed elsewhere
 *  still lists each function once. */
export function releaseItems(path: string): PaletteItem[] {
  const found = /^\/functions\/([^/?#]+)/.exec(path);
  if (!found?.[1]) return [];
  const name = decodeURIComponent(found[1]);
  return [
    {
      label: `Releases of ${name}: aliases, rollback, history`,
      kind: "Releases",
      target: `/functions/${encodeURIComponent(name)}/releases`,
    },
  ];
}
