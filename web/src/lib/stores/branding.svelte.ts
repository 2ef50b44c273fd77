// The workspace's own images (`Assets_<name>` public settings, set in Administration → Assets):
// the logo shown on the login page and the sidebar, and the page's icon. Follows the settings
// live (`public-settings-changed`), so a new logo or icon shows without a reload.

import type { AssetValue, Setting } from '../types';

const BUILT_IN_ICON = '/favicon.svg';

function isAssetValue(value: unknown): value is AssetValue {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Branding {
  /** Each asset's setting value by asset name (`logo`, `favicon`, …). */
  assets = $state<Record<string, AssetValue>>({});
  /**
   * Bumped on every change: a replaced asset keeps its URL when its type does not change,
   * and an image already on the page would not load again.
   */
  private version = $state(0);

  /** The set asset's URL (root-relative, cache-busted), or null while it is not set. */
  url(name: string): string | null {
    const url = this.assets[name]?.url;
    return url ? `/${url.replace(/^\/+/, '')}?v=${this.version}` : null;
  }

  get logo(): string | null {
    return this.url('logo');
  }

  get favicon(): { href: string; type: string } {
    const svg = this.url('favicon');
    if (svg) return { href: svg, type: 'image/svg+xml' };
    const ico = this.url('favicon_ico');
    if (ico) return { href: ico, type: 'image/x-icon' };
    return { href: BUILT_IN_ICON, type: 'image/svg+xml' };
  }

  /** Takes every `Assets_*` setting from a `settings.public` answer. */
  load(settings: Setting[]) {
    const next: Record<string, AssetValue> = {};
    for (const setting of settings) {
      if (setting._id.startsWith('Assets_') && isAssetValue(setting.value)) next[setting._id.slice('Assets_'.length)] = setting.value;
    }
    this.assets = next;
    this.version++;
  }

  /** A public setting changed; only `Assets_*` concern this store. */
  apply(id: string, value: unknown) {
    if (!id.startsWith('Assets_') || !isAssetValue(value)) return;
    this.assets[id.slice('Assets_'.length)] = value;
    this.version++;
  }
}

export const branding = new Branding();

/** Keeps the document's icon on the workspace's favicon (call once, inside a component). */
export function followFavicon() {
  $effect(() => {
    const { href, type } = branding.favicon;
    let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
    if (!link) {
      link = document.createElement('link');
      link.rel = 'icon';
      document.head.append(link);
    }
    link.type = type;
    link.href = href;
  });
}
