// Whether the full emoji catalogue (lib/emojiCatalogue.ts, a chunk of its own) has loaded.
// Readers of `emojiCatalogue.loaded` re-run when it arrives, so a message naming an emoji only
// the full catalogue knows shows its picture once it is there.

class EmojiCatalogueState {
  loaded = $state(false);
  private loading: Promise<unknown> | undefined;

  /** Starts loading the catalogue (once); resolves when emoji.ts knows every name. */
  load(): Promise<unknown> {
    this.loading ??= import('../emojiCatalogue').then(
      (module) => {
        this.loaded = true;
        return module;
      },
      (error: unknown) => {
        // A failed chunk (a deploy in between, offline): try again on the next need.
        this.loading = undefined;
        throw error;
      },
    );
    return this.loading;
  }

  /** A name or character was not known: load the catalogue unless it is there. Reactive. */
  missed(): void {
    if (!this.loaded) void this.load().catch(() => undefined);
  }
}

export const emojiCatalogue = new EmojiCatalogueState();
