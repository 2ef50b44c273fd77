// Message markdown as Rocket.Chat writes it, parsed into a small tree that components render
// with text nodes and a fixed set of elements. Nothing here produces HTML strings, so message
// text can never become markup: the renderer is XSS-safe by construction. Links keep only
// http(s) and mailto targets.

import { emojiAt, emojiFor } from './emoji';
import { customEmoji, customEmojiUrl } from './stores/customEmoji.svelte';
import { emojiCatalogue } from './stores/emojiCatalogue.svelte';

export type Inline =
  | { t: 'text'; v: string }
  | { t: 'bold' | 'italic' | 'strike'; c: Inline[] }
  | { t: 'code'; v: string }
  | { t: 'link'; href: string; c: Inline[] }
  | { t: 'mention'; v: string }
  | { t: 'channel'; v: string }
  | { t: 'emoji'; v: string; name: string }
  /** A custom emoji: `name` as written (maybe an alias), `src` its image. */
  | { t: 'custom'; name: string; src: string }
  | { t: 'br' };

export type Block =
  | { t: 'p'; c: Inline[] }
  | { t: 'h'; level: number; c: Inline[] }
  | { t: 'code'; lang: string; v: string }
  | { t: 'quote'; c: Block[] }
  | { t: 'list'; ordered: boolean; items: Inline[][] };

export interface ParseOptions {
  /** `#name`s the server resolved to channels; other `#words` stay text. */
  channels?: Set<string>;
}

const SAFE_URL = /^(https?:\/\/|mailto:)/i;
const BARE_URL = /^https?:\/\/[^\s<>"]+/i;
const WORD_CHAR = /[\p{L}\p{N}_]/u;
const USERNAME = /^[\p{L}\p{N}._-]+/u;

/** Whether `href` is a link target the client will open. */
export function safeHref(href: string): string | null {
  const trimmed = href.trim();
  if (!SAFE_URL.test(trimmed)) return null;
  try {
    const url = new URL(trimmed);
    return url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'mailto:'
      ? url.href
      : null;
  } catch {
    return null;
  }
}

export function parse(text: string, options: ParseOptions = {}): Block[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length) {
      blocks.push({ t: 'p', c: inline(paragraph.join('\n'), options) });
      paragraph = [];
    }
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*```(.*)$/.exec(line);
    if (fence) {
      // A fenced block runs to the closing fence, or to the end of the message.
      const rest = fence[1];
      const closeSameLine = rest.indexOf('```');
      if (closeSameLine >= 0) {
        flush();
        blocks.push({ t: 'code', lang: '', v: rest.slice(0, closeSameLine) });
        const after = rest.slice(closeSameLine + 3).trim();
        if (after) paragraph.push(after);
        continue;
      }
      let end = i + 1;
      while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++;
      flush();
      const lang = /^[\w+#.-]{1,20}$/.test(rest.trim()) ? rest.trim() : '';
      const body = lines.slice(i + 1, end);
      if (!lang && rest.trim()) body.unshift(rest);
      blocks.push({ t: 'code', lang, v: body.join('\n') });
      i = end;
      continue;
    }
    if (/^>\s?/.test(line)) {
      flush();
      const quoted: string[] = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) {
        quoted.push(lines[i].replace(/^>\s?/, ''));
        i++;
      }
      i--;
      blocks.push({ t: 'quote', c: parse(quoted.join('\n'), options) });
      continue;
    }
    const heading = /^(#{1,4})\s+(.+)$/.exec(line);
    if (heading) {
      flush();
      blocks.push({ t: 'h', level: heading[1].length, c: inline(heading[2], options) });
      continue;
    }
    const bullet = /^\s*([-*•]|\d{1,3}[.)])\s+(.*)$/.exec(line);
    if (bullet) {
      flush();
      const ordered = /\d/.test(bullet[1]);
      const items: Inline[][] = [];
      while (i < lines.length) {
        const item = /^\s*([-*•]|\d{1,3}[.)])\s+(.*)$/.exec(lines[i]);
        if (!item || /\d/.test(item[1]) !== ordered) break;
        items.push(inline(item[2], options));
        i++;
      }
      i--;
      blocks.push({ t: 'list', ordered, items });
      continue;
    }
    paragraph.push(line);
  }
  flush();
  return blocks;
}

const PAIRS: Record<string, 'bold' | 'italic' | 'strike'> = {
  '**': 'bold',
  '*': 'bold',
  __: 'italic',
  _: 'italic',
  '~~': 'strike',
  '~': 'strike',
};

/** Parses inline markup: emphasis, code, links, mentions, channels, emoji, line breaks. */
export function inline(text: string, options: ParseOptions = {}): Inline[] {
  const out: Inline[] = [];
  let buffer = '';
  const push = (node: Inline) => {
    if (buffer) {
      out.push({ t: 'text', v: buffer });
      buffer = '';
    }
    out.push(node);
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const prev = i > 0 ? text[i - 1] : '';
    const atWordStart = !prev || !WORD_CHAR.test(prev);
    if (ch === '\n') {
      push({ t: 'br' });
      i++;
      continue;
    }
    if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i + 1) {
        push({ t: 'code', v: text.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    if (ch === '[') {
      const link = /^\[([^\]\n]+)\]\(([^)\s]+)\)/.exec(text.slice(i));
      const href = link ? safeHref(link[2]) : null;
      if (link && href) {
        // `[ ](<message link>)` is how a quote or forward names its message: the quote shows it.
        if (link[1].trim()) push({ t: 'link', href, c: inline(link[1], options) });
        i += link[0].length;
        continue;
      }
    }
    if ((ch === 'h' || ch === 'H') && atWordStart) {
      const url = BARE_URL.exec(text.slice(i));
      if (url) {
        // Trailing punctuation usually ends the sentence, not the link.
        const raw = url[0].replace(/[.,;:!?)\]'}]+$/, '');
        const href = safeHref(raw);
        if (href) {
          push({ t: 'link', href, c: [{ t: 'text', v: raw }] });
          i += raw.length;
          continue;
        }
      }
    }
    if (ch === '*' || ch === '_' || ch === '~') {
      const double = text[i + 1] === ch;
      const marker = double ? ch + ch : ch;
      const kind = PAIRS[marker];
      const start = i + marker.length;
      const opensWord = start < text.length && !/\s/.test(text[start]);
      // `_` only at word edges, so snake_case stays as written.
      if (kind && opensWord && (ch !== '_' || atWordStart)) {
        let end = text.indexOf(marker, start);
        while (end > start && /\s/.test(text[end - 1])) end = text.indexOf(marker, end + 1);
        const after = end >= 0 ? text[end + marker.length] : undefined;
        const closesWord = ch !== '_' || after === undefined || !WORD_CHAR.test(after);
        if (end > start && closesWord && !text.slice(start, end).includes('\n')) {
          push({ t: kind, c: inline(text.slice(start, end), options) });
          i = end + marker.length;
          continue;
        }
      }
    }
    if (ch === '@' && atWordStart) {
      const name = USERNAME.exec(text.slice(i + 1));
      if (name) {
        const username = name[0].replace(/[.-]+$/, '');
        if (username) {
          push({ t: 'mention', v: username });
          i += 1 + username.length;
          continue;
        }
      }
    }
    if (ch === '#' && atWordStart && options.channels) {
      const name = USERNAME.exec(text.slice(i + 1));
      if (name && options.channels.has(name[0])) {
        push({ t: 'channel', v: name[0] });
        i += 1 + name[0].length;
        continue;
      }
    }
    if (ch === ':') {
      const code = /^:([a-z0-9_+-]{1,40}):/.exec(text.slice(i));
      const char = code ? emojiFor(code[1]) : undefined;
      if (code && char) {
        push({ t: 'emoji', v: char, name: code[1] });
        i += code[0].length;
        continue;
      }
      const custom = /^:([^:\s<>]{1,60}):/.exec(text.slice(i));
      const found = custom ? customEmoji.find(custom[1]) : undefined;
      if (custom && found) {
        push({ t: 'custom', name: custom[1], src: customEmojiUrl(found) });
        i += custom[0].length;
        continue;
      }
      // A name only the full catalogue may know: load it; reading its state re-parses then.
      if (code && /[a-z]/.test(code[1])) emojiCatalogue.missed();
    }
    const typed = emojiAt(text, i);
    if (typed) {
      push({ t: 'emoji', v: typed.char, name: typed.name });
      i += typed.length;
      continue;
    }
    // A pictograph (U+1F000…U+1FAFF) the short table lacks: likewise.
    const point = text.codePointAt(i) ?? 0;
    if (point >= 0x1f000 && point < 0x1fb00) emojiCatalogue.missed();
    buffer += ch;
    i++;
  }
  if (buffer) out.push({ t: 'text', v: buffer });
  return out;
}

/** True when a message is only one to three emoji: shown large. */
export function isEmojiOnly(blocks: Block[]): boolean {
  if (blocks.length !== 1 || blocks[0].t !== 'p') return false;
  const nodes = blocks[0].c.filter((n) => !(n.t === 'text' && !n.v.trim()));
  return nodes.length > 0 && nodes.length <= 3 && nodes.every((n) => n.t === 'emoji' || n.t === 'custom');
}
