/// <reference types="svelte" />
/// <reference types="vite/client" />

/** The full emoji catalogue, built by vite.config.ts from Emojibase (see emoji-catalogue.ts). */
declare module 'virtual:emoji-catalogue' {
  /** [name, character, category, other names (space-separated), search words, the five skin tones or 0] */
  const entries: [string, string, string, string, string, string[] | 0][];
  export default entries;
}
