// The server's custom emoji: loaded once with `emoji-custom.list`, kept current by
// `updateEmojiCustom`/`deleteEmojiCustom` on `stream-notify-logged`. Markdown and reactions
// look names and aliases up here; reads are reactive, so messages re-render when an emoji
// is added, renamed or deleted.

import { api } from '../api';

export interface CustomEmoji {
  _id: string;
  name: string;
  aliases: string[];
  extension: string;
  etag?: string;
}

class CustomEmojiStore {
  byId = $state<Record<string, CustomEmoji>>({});
  /** Name and every alias → the emoji. */
  index = $derived.by(() => {
    const map = new Map<string, CustomEmoji>();
    for (const emoji of Object.values(this.byId)) {
      map.set(emoji.name, emoji);
      for (const alias of emoji.aliases ?? []) if (!map.has(alias)) map.set(alias, emoji);
    }
    return map;
  });
  /** Sorted by name, for pickers. */
  list = $derived(Object.values(this.byId).sort((a, b) => a.name.localeCompare(b.name)));

  async load() {
    try {
      const body = await api.rest.get<{ emojis: { update: CustomEmoji[] } }>('emoji-custom.list');
      const next: Record<string, CustomEmoji> = {};
      for (const emoji of body.emojis.update) next[emoji._id] = normalize(emoji);
      this.byId = next;
    } catch {
      // Custom emoji then render as text; the next login tries again.
    }
  }

  applyUpdate(emoji: CustomEmoji | undefined) {
    if (emoji?._id) this.byId[emoji._id] = normalize(emoji);
  }

  applyDelete(emoji: { _id?: string } | undefined) {
    if (emoji?._id) delete this.byId[emoji._id];
  }

  /** `name` or `:name:` (a name or an alias) → the emoji. */
  find(shortcode: string): CustomEmoji | undefined {
    return this.index.get(shortcode.replace(/^:|:$/g, ''));
  }

  reset() {
    this.byId = {};
  }
}

function normalize(emoji: CustomEmoji): CustomEmoji {
  return {
    _id: emoji._id,
    name: emoji.name,
    aliases: Array.isArray(emoji.aliases) ? emoji.aliases : [],
    extension: emoji.extension,
    etag: emoji.etag,
  };
}

/** Where the server serves the emoji's image; the etag busts caches when the file changes. */
export function customEmojiUrl(emoji: CustomEmoji): string {
  const file = `/emoji-custom/${encodeURIComponent(emoji.name)}.${encodeURIComponent(emoji.extension)}`;
  return emoji.etag ? `${file}?etag=${encodeURIComponent(emoji.etag)}` : file;
}

export const customEmoji = new CustomEmojiStore();
