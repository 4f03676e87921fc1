// Words tied to this service (ASVS 6.1.2, 6.2.11): the product, the brand, the host, the
// role names and a few login words. A password built mostly of them is refused.
import { ROLE_PERMISSIONS } from '../roles/permissions.js';

/** Words shorter than this are ignored: too many ordinary passwords contain them. */
const CONTEXT_WORD_MIN = 4;
/** A password holding a context word must keep at least this many other letters. */
export const CONTEXT_REST_MIN = 6;

/** Refused whatever the settings: the product, the role names and the classic login words. */
export const DEFAULT_CONTEXT_WORDS: readonly string[] = [
  'tessera',
  ...Object.keys(ROLE_PERMISSIONS),
  'password',
  'login',
  'welcome',
  'letmein',
];

// Leetspeak readings: a digit or symbol that stands for a letter matches it inside a word.
const LEET: Readonly<Record<string, string>> = {
  '0': 'o',
  '1': 'il',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
};
const LETTER = /^\p{L}$/u;

/** The letter pieces of a text, lower case and NFKC, of at least CONTEXT_WORD_MIN letters. */
function letterWords(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/\P{L}+/u)
    .filter((w) => [...w].length >= CONTEXT_WORD_MIN);
}

/** The host's labels without the top-level one and "www"; nothing for an IP address. */
function hostWords(issuer: string): string[] {
  const host = URL.canParse(issuer) ? new URL(issuer).hostname : '';
  if (host === '' || host.startsWith('[') || /^[\d.]+$/.test(host)) return [];
  const labels = host.split('.');
  if (labels.length > 1) labels.pop();
  return labels.filter((l) => l !== 'www').flatMap(letterWords);
}

/**
 * Every context word for one deployment, longest first, each lower case letters only:
 * the defaults, the brand name's words, the issuer host's labels and the extra words
 * (PASSWORD_CONTEXT_WORDS, comma-separated).
 */
export function contextWordsFor(source: { brandName: string; issuer: string; extra?: string }): string[] {
  const words = new Set([
    ...DEFAULT_CONTEXT_WORDS.flatMap(letterWords),
    ...letterWords(source.brandName),
    ...hostWords(source.issuer),
    ...(source.extra ?? '').split(',').flatMap(letterWords),
  ]);
  return [...words].sort((a, b) => [...b].length - [...a].length || a.localeCompare(b));
}

interface Mark {
  /** The letters this character can stand for. */
  reads: string;
  /** A letter typed as a letter (a leetspeak digit or symbol left over does not count). */
  letter: boolean;
}

/** The password as letters and leetspeak stand-ins; every other digit and symbol dropped. */
function marks(normalized: string): Mark[] {
  const out: Mark[] = [];
  for (const ch of normalized.toLowerCase()) {
    if (LETTER.test(ch)) out.push({ reads: ch, letter: true });
    else if (LEET[ch]) out.push({ reads: LEET[ch], letter: false });
  }
  return out;
}

function matchesAt(seq: Mark[], at: number, word: string[]): boolean {
  if (at + word.length > seq.length) return false;
  for (let j = 0; j < word.length; j++) if (!seq[at + j]!.reads.includes(word[j]!)) return false;
  return true;
}

/**
 * True when the (NFKC) password contains a context word and, with every context word,
 * digit and symbol taken out, fewer than CONTEXT_REST_MIN letters are left. Words match
 * in any letter case, through leetspeak (T3ss3r@) and across symbols (tes-sera).
 */
export function builtFromContextWords(normalized: string, words: readonly string[]): boolean {
  let seq = marks(normalized);
  // Longest first, so "administrator" goes whole before "admin" can take part of it.
  const split = words
    .flatMap(letterWords)
    .map((w) => [...w])
    .sort((a, b) => b.length - a.length);
  let found = false;
  // Taking a word out can join two halves of another: repeat until nothing matches.
  for (let removed = true; removed;) {
    removed = false;
    for (const word of split) {
      const kept: Mark[] = [];
      for (let i = 0; i < seq.length;) {
        if (matchesAt(seq, i, word)) {
          i += word.length;
          removed = true;
        } else kept.push(seq[i++]!);
      }
      seq = kept;
    }
    found ||= removed;
  }
  return found && seq.filter((m) => m.letter).length < CONTEXT_REST_MIN;
}
