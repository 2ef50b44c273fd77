// The full emoji catalogue, built from Emojibase's data (`emojibase-data`) when the client is
// built: every Unicode emoji Twemoji draws, named by JoyPixels' shortcodes (the names
// Rocket.Chat uses: `smile`, `+1`, `thumbsup`, `name_tone1` … `name_tone5`), by category, with
// its skin tones and the words a search finds it by. Read by vite.config.ts, which serves it as
// the module `virtual:emoji-catalogue` (loaded on demand) and ships each emoji's picture.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { EMOJI, emojiImageName } from './src/lib/emoji.ts';

/** Emojibase's groups, in its order, as the picker's categories (group 2, skin tone swatches, is left out). */
export const GROUPS: Record<number, string> = {
  0: 'smileys',
  1: 'people',
  3: 'nature',
  4: 'food',
  5: 'travel',
  6: 'activities',
  7: 'objects',
  8: 'symbols',
  9: 'flags',
};

interface Skin {
  hexcode: string;
  unicode: string;
}
interface Emoji {
  hexcode: string;
  unicode: string;
  label: string;
  group?: number;
  order?: number;
  tags?: string[];
  skins?: Skin[];
}

/** One emoji: [name, character, category, other names, search words, the five skin tones or 0]. */
export type Entry = [string, string, string, string, string, string[] | 0];

export function buildCatalogue(): { entries: Entry[]; images: Set<string>; twemojiDir: string } {
  const require = createRequire(import.meta.url);
  const twemojiDir = dirname(require.resolve('@twemoji/svg/package.json'));
  const data = JSON.parse(readFileSync(require.resolve('emojibase-data/en/compact.json'), 'utf8')) as Emoji[];
  const shortcodes = JSON.parse(readFileSync(require.resolve('emojibase-data/en/shortcodes/joypixels.json'), 'utf8')) as Record<string, string | string[]>;
  const names = (hexcode: string): string[] => {
    const value = shortcodes[hexcode];
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
  };
  // The short table's name for a character wins, so names in use keep their place (`+1`, not `thumbsup`).
  const shortName = new Map<string, string>();
  for (const [name, char] of Object.entries(EMOJI)) {
    const key = char.replace(/\ufe0f/g, '');
    if (!shortName.has(key)) shortName.set(key, name);
  }
  const images = new Set<string>();
  /** The character as Twemoji draws it (some sequences have their picture without U+FE0F), or undefined. */
  const drawn = (char: string): string | undefined => {
    for (const candidate of [char, char.replace(/\ufe0f/g, '')]) {
      if (existsSync(join(twemojiDir, `${emojiImageName(candidate)}.svg`))) return candidate;
    }
    return undefined;
  };
  const entries: Entry[] = [];
  const used = new Set<string>();
  const sorted = data.filter((e) => e.group !== undefined && GROUPS[e.group]).sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  for (const emoji of sorted) {
    const preferred = shortName.get(emoji.unicode.replace(/\ufe0f/g, ''));
    // A name the short table gives another character, or an earlier emoji took, stays theirs.
    const plain = emoji.unicode.replace(/\ufe0f/g, '');
    const all = names(emoji.hexcode).filter((n) => (!(n in EMOJI) || EMOJI[n].replace(/\ufe0f/g, '') === plain) && !used.has(n));
    const char = drawn(emoji.unicode);
    if (!all.length || !char) continue;
    const name = preferred ?? all[0];
    const aliases = all.filter((n) => n !== name);
    for (const n of all) used.add(n);
    // Only one-tone variants: `name_toneN` names a single skin tone.
    const tones: string[] = [];
    for (const skin of emoji.skins ?? []) {
      const modifiers = skin.hexcode.split('-').filter((h) => /^1F3F[B-F]$/.test(h));
      if (!modifiers.length || modifiers.some((m) => m !== modifiers[0])) continue;
      const tone = parseInt(modifiers[0], 16) - 0x1f3fa;
      const drawnSkin = drawn(skin.unicode);
      if (drawnSkin && !tones[tone - 1]) tones[tone - 1] = drawnSkin;
    }
    const complete = [1, 2, 3, 4, 5].every((n) => tones[n - 1]);
    const words = [...new Set([...(emoji.tags ?? []), ...emoji.label.split(/[^\p{L}\p{N}]+/u)].map((w) => w.toLowerCase()).filter(Boolean))];
    entries.push([name, char, GROUPS[emoji.group ?? 0], aliases.join(' '), words.join(' '), complete ? tones : 0]);
    images.add(emojiImageName(char));
    if (complete) for (const skin of tones) images.add(emojiImageName(skin));
  }
  return { entries, images, twemojiDir };
}
