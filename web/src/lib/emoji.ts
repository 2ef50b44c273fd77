// Emoji shortcodes (`:smile:`) the client renders, suggests and offers for reactions.
// Reactions travel as `:name:`; the server accepts any name, so unknown names render as text.

export const EMOJI: Record<string, string> = {
  '+1': '👍', thumbsup: '👍', '-1': '👎', thumbsdown: '👎', smile: '😄', smiley: '😃', grinning: '😀',
  grin: '😁', joy: '😂', rofl: '🤣', laughing: '😆', sweat_smile: '😅', wink: '😉', blush: '😊',
  innocent: '😇', slight_smile: '🙂', upside_down: '🙃', heart_eyes: '😍', kissing_heart: '😘',
  yum: '😋', stuck_out_tongue: '😛', sunglasses: '😎', nerd: '🤓', thinking: '🤔', neutral_face: '😐',
  expressionless: '😑', no_mouth: '😶', rolling_eyes: '🙄', smirk: '😏', persevere: '😣',
  disappointed_relieved: '😥', open_mouth: '😮', hushed: '😯', sleepy: '😪', tired_face: '😫',
  sleeping: '😴', relieved: '😌', unamused: '😒', sweat: '😓', pensive: '😔', confused: '😕',
  astonished: '😲', slight_frown: '🙁', confounded: '😖', disappointed: '😞', worried: '😟',
  triumph: '😤', cry: '😢', sob: '😭', frowning: '😦', anguished: '😧', fearful: '😨', weary: '😩',
  grimacing: '😬', cold_sweat: '😰', scream: '😱', flushed: '😳', dizzy_face: '😵', rage: '😡',
  angry: '😠', mask: '😷', partying_face: '🥳', hugging: '🤗', shushing_face: '🤫', zipper_mouth: '🤐',
  face_with_monocle: '🧐', star_struck: '🤩', pleading_face: '🥺', skull: '💀', ghost: '👻',
  robot: '🤖', poop: '💩', clown: '🤡', see_no_evil: '🙈', hear_no_evil: '🙉', speak_no_evil: '🙊',
  heart: '❤️', orange_heart: '🧡', yellow_heart: '💛', green_heart: '💚', blue_heart: '💙',
  purple_heart: '💜', black_heart: '🖤', broken_heart: '💔', sparkling_heart: '💖', fire: '🔥',
  star: '⭐', sparkles: '✨', zap: '⚡', boom: '💥', tada: '🎉', confetti_ball: '🎊', balloon: '🎈',
  gift: '🎁', trophy: '🏆', medal: '🏅', rocket: '🚀', eyes: '👀', wave: '👋', clap: '👏',
  raised_hands: '🙌', pray: '🙏', ok_hand: '👌', muscle: '💪', point_up: '☝️', point_right: '👉',
  point_left: '👈', v: '✌️', crossed_fingers: '🤞', handshake: '🤝', writing_hand: '✍️',
  white_check_mark: '✅', heavy_check_mark: '✔️', x: '❌', warning: '⚠️', no_entry: '⛔',
  question: '❓', exclamation: '❗', bulb: '💡', memo: '📝', pushpin: '📌', paperclip: '📎',
  lock: '🔒', unlock: '🔓', key: '🔑', bell: '🔔', mag: '🔍', calendar: '📅', clock: '🕐',
  hourglass: '⌛', coffee: '☕', tea: '🍵', beer: '🍺', pizza: '🍕', cake: '🍰', apple: '🍎',
  sunny: '☀️', cloud: '☁️', umbrella: '☔', snowflake: '❄️', rainbow: '🌈', earth_africa: '🌍',
  moon: '🌙', dog: '🐶', cat: '🐱', unicorn: '🦄', bug: '🐛', rose: '🌹', tulip: '🌷', seedling: '🌱',
  computer: '💻', keyboard: '⌨️', phone: '📱', email: '📧', book: '📖', chart_with_upwards_trend: '📈',
  moneybag: '💰', gear: '⚙️', hammer: '🔨', wrench: '🔧', link: '🔗', 100: '💯', arrow_up: '⬆️',
  arrow_down: '⬇️', arrow_right: '➡️', arrow_left: '⬅️', recycle: '♻️', hourglass_flowing_sand: '⏳',
  speech_balloon: '💬', thought_balloon: '💭', zzz: '💤', sweat_drops: '💦', dash: '💨',
};

/** The reaction picker's choices, most used first. */
export const QUICK_REACTIONS = ['+1', 'heart', 'joy', 'tada', 'eyes', 'rocket', 'white_check_mark', 'pray'];

export const PICKER = [
  '+1', '-1', 'heart', 'joy', 'smile', 'tada', 'eyes', 'rocket', 'fire', 'clap', 'pray', 'thinking',
  'white_check_mark', 'x', 'wave', 'ok_hand', 'muscle', 'sob', 'rage', 'scream', 'sunglasses',
  'heart_eyes', 'partying_face', 'star', 'sparkles', 'bulb', 'coffee', 'pizza', 'beer', 'moneybag',
  '100', 'warning', 'question', 'skull', 'see_no_evil', 'raised_hands',
];

/** The composer's emoji picker: the reaction choices and a few more faces and objects. */
export const COMPOSER_PICKER = [
  ...PICKER,
  'grinning', 'wink', 'blush', 'slight_smile', 'upside_down', 'kissing_heart', 'yum', 'nerd',
  'rolling_eyes', 'smirk', 'relieved', 'pensive', 'confused', 'cry', 'hugging', 'star_struck',
  'pleading_face', 'ghost', 'robot', 'v', 'crossed_fingers', 'handshake', 'point_up', 'zap',
  'rainbow', 'sunny', 'cake', 'gift', 'trophy', 'memo', 'pushpin', 'calendar',
];

/**
 * The image of a standard emoji, shipped with the client (Twemoji's SVGs, copied into
 * `/emoji/` by the build for every character above), so that every browser shows it, with or
 * without a colour emoji font. Named as Twemoji names its files: the code points in hex,
 * without the variation selector U+FE0F outside ZWJ sequences.
 */
export function emojiImageName(char: string): string {
  const text = char.includes('\u200d') ? char : char.replace(/\ufe0f/g, '');
  return [...text].map((c) => (c.codePointAt(0) ?? 0).toString(16)).join('-');
}

export function emojiImage(char: string): string {
  return `/emoji/${emojiImageName(char)}.svg`;
}

/** Character (without U+FE0F) → shortcode, for emoji typed or pasted as characters. */
const BY_CHAR = new Map<string, string>();
for (const [name, char] of Object.entries(EMOJI)) {
  const key = char.replace(/\ufe0f/g, '');
  if (!BY_CHAR.has(key)) BY_CHAR.set(key, name);
}

/** What the full catalogue (`emojiCatalogue.ts`, loaded on demand) adds to the short table above. */
export interface MoreEmoji {
  /** A name (an alias, or with `_toneN`) → the character. */
  char(name: string): string | undefined;
  /** Character without U+FE0F → name. */
  byChar: Map<string, string>;
  /** The longest character sequence, in UTF-16 units. */
  longest: number;
  search(prefix: string, limit: number): { name: string; char: string }[];
}
let more: MoreEmoji | undefined;

export function addEmojiCatalogue(catalogue: MoreEmoji): void {
  more = catalogue;
}

/** A known emoji character at `text[at]`: its length in the text (with any U+FE0F) and name. */
export function emojiAt(text: string, at: number): { length: number; char: string; name: string } | undefined {
  const first = text.charCodeAt(at);
  // Every emoji above starts at or after U+2000 (or is a surrogate pair): skip plain text fast.
  if (first < 0x2000) return undefined;
  for (let length = more?.longest ?? 4; length >= 1; length--) {
    const piece = text.slice(at, at + length);
    const key = piece.replace(/\ufe0f/g, '');
    const name = BY_CHAR.get(key) ?? more?.byChar.get(key);
    if (name && piece.length === length) {
      const withSelector = text[at + length] === '\ufe0f' ? length + 1 : length;
      // A skin tone modifier (U+1F3FB…U+1F3FF) after it belongs to it.
      const tone = (text.codePointAt(at + withSelector) ?? 0) - 0x1f3fa;
      if (tone >= 1 && tone <= 5 && !/_tone[1-5]$/.test(name)) {
        const toned = emojiFor(`${name}_tone${tone}`);
        if (toned) return { length: withSelector + 2, char: toned, name: `${name}_tone${tone}` };
      }
      return { length: withSelector, char: emojiFor(name) ?? piece, name };
    }
  }
  return undefined;
}

/** `:name:` (or upstream's `:name_tone1:` … `_tone5` for a skin tone) → the character, or undefined. */
export function emojiFor(shortcode: string): string | undefined {
  const name = shortcode.replace(/^:|:$/g, '');
  if (Object.prototype.hasOwnProperty.call(EMOJI, name)) return EMOJI[name];
  const found = more?.char(name);
  if (found) return found;
  const toned = /^(.+)_tone([1-5])$/.exec(name);
  if (toned && !more) {
    const base = emojiFor(toned[1]);
    return base && base.replace(/\ufe0f/g, '') + String.fromCodePoint(0x1f3fa + Number(toned[2]));
  }
  return undefined;
}

/** Shortcodes starting with `prefix`, for the composer's `:` suggestions. */
export function searchEmoji(prefix: string, limit = 8): { name: string; char: string }[] {
  const lower = prefix.toLowerCase();
  const out: { name: string; char: string }[] = [];
  for (const [name, char] of Object.entries(EMOJI)) {
    if (name.startsWith(lower)) out.push({ name, char });
    if (out.length >= limit) return out;
  }
  for (const found of more?.search(lower, limit) ?? []) {
    if (!out.some((e) => e.char === found.char)) out.push(found);
    if (out.length >= limit) break;
  }
  return out;
}
