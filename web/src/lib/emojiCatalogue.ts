// Every Unicode emoji the client draws (loaded on demand: with the emoji picker, or when a message
// names an emoji the short table in emoji.ts lacks): names, categories, skin tones and search
// words, built from Emojibase's data by vite.config.ts. Loading it teaches emoji.ts every name.

import entries from 'virtual:emoji-catalogue';
import { addEmojiCatalogue } from './emoji';

export const CATEGORY_IDS = ['smileys', 'people', 'nature', 'food', 'travel', 'activities', 'objects', 'symbols', 'flags'] as const;
export type CategoryId = (typeof CATEGORY_IDS)[number];

export interface CatalogueEmoji {
  name: string;
  char: string;
  category: CategoryId;
  aliases: string[];
  /** Lowercase words a search finds it by, space-separated. */
  words: string;
  /** Its five skin tones (`name_tone1` … `name_tone5`), when it has them. */
  tones?: string[];
}

export const EMOJIS: CatalogueEmoji[] = entries.map(([name, char, category, aliases, words, tones]) => ({
  name,
  char,
  category: category as CategoryId,
  aliases: aliases ? aliases.split(' ') : [],
  words,
  tones: tones || undefined,
}));

/** Every name and alias → its emoji. */
export const BY_NAME = new Map<string, CatalogueEmoji>();
for (const emoji of EMOJIS) {
  for (const name of [emoji.name, ...emoji.aliases]) if (!BY_NAME.has(name)) BY_NAME.set(name, emoji);
}

function char(name: string): string | undefined {
  const found = BY_NAME.get(name);
  if (found) return found.char;
  const toned = /^(.+)_tone([1-5])$/.exec(name);
  return toned ? BY_NAME.get(toned[1])?.tones?.[Number(toned[2]) - 1] : undefined;
}

const byChar = new Map<string, string>();
let longest = 1;
for (const emoji of EMOJIS) {
  const key = emoji.char.replace(/\ufe0f/g, '');
  if (!byChar.has(key)) byChar.set(key, emoji.name);
  longest = Math.max(longest, emoji.char.length);
  emoji.tones?.forEach((toned, i) => {
    const tonedKey = toned.replace(/\ufe0f/g, '');
    if (!byChar.has(tonedKey)) byChar.set(tonedKey, `${emoji.name}_tone${i + 1}`);
    longest = Math.max(longest, toned.length);
  });
}

function search(prefix: string, limit: number): { name: string; char: string }[] {
  const out: { name: string; char: string }[] = [];
  for (const emoji of EMOJIS) {
    const name = [emoji.name, ...emoji.aliases].find((n) => n.startsWith(prefix));
    if (name) out.push({ name, char: emoji.char });
    if (out.length >= limit) break;
  }
  return out;
}

/** Emoji matching a search: names first (exact, then starting with it, then containing it), then words. */
export function findEmoji(query: string, limit = 240): CatalogueEmoji[] {
  const ranked: { emoji: CatalogueEmoji; rank: number }[] = [];
  for (const emoji of EMOJIS) {
    const names = [emoji.name, ...emoji.aliases];
    const rank = names.includes(query)
      ? 0
      : names.some((n) => n.startsWith(query))
        ? 1
        : names.some((n) => n.includes(query))
          ? 2
          : emoji.words.split(' ').some((w) => w.startsWith(query))
            ? 3
            : -1;
    if (rank >= 0) ranked.push({ emoji, rank });
  }
  // Array sort is stable: within a rank, the catalogue's order.
  return ranked
    .sort((a, b) => a.rank - b.rank)
    .slice(0, limit)
    .map((r) => r.emoji);
}

addEmojiCatalogue({ char, byChar, longest, search });
