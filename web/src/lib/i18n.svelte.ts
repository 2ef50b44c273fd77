// Translations and text direction. The first screen's English is bundled; the rest of English
// (`en.more.ts`) loads right after start-up, and other languages load whole on demand.
// Arabic, Hebrew, Persian and Urdu switch the whole layout to right-to-left. Codes are the ones
// Rocket.Chat's own client uses (`pt-BR`, `zh` for simplified Chinese).

import en, { type MessageKey } from './locales/en';

export type Locale = 'en' | 'fr' | 'es' | 'pt-BR' | 'de' | 'tr' | 'ru' | 'zh' | 'ar' | 'he' | 'fa' | 'ur';
export const LOCALES: Locale[] = ['en', 'fr', 'es', 'pt-BR', 'de', 'tr', 'ru', 'zh', 'ar', 'he', 'fa', 'ur'];
const RTL = new Set<Locale>(['ar', 'he', 'fa', 'ur']);
const LOCALE_KEY = 'comet.locale';

const loaders: Record<Exclude<Locale, 'en'>, () => Promise<Partial<Record<MessageKey, string>>>> = {
  fr: () => import('./locales/fr').then((m) => m.default),
  es: () => import('./locales/es').then((m) => m.default),
  'pt-BR': () => import('./locales/pt-BR').then((m) => m.default),
  de: () => import('./locales/de').then((m) => m.default),
  tr: () => import('./locales/tr').then((m) => m.default),
  ru: () => import('./locales/ru').then((m) => m.default),
  zh: () => import('./locales/zh').then((m) => m.default),
  ar: () => import('./locales/ar').then((m) => m.default),
  he: () => import('./locales/he').then((m) => m.default),
  fa: () => import('./locales/fa').then((m) => m.default),
  ur: () => import('./locales/ur').then((m) => m.default),
};

/**
 * The supported locale for a language tag: itself, else the one sharing its language
 * ("pt-PT" → "pt-BR", "zh-CN" → "zh", "ur-PK" → "ur").
 */
export function matchLocale(tag: string | null | undefined): Locale | undefined {
  if (!tag) return undefined;
  const exact = LOCALES.find((l) => l.toLowerCase() === tag.toLowerCase());
  if (exact) return exact;
  const language = tag.toLowerCase().split(/[-_]/)[0];
  return LOCALES.find((l) => l.toLowerCase().split('-')[0] === language);
}

class I18n {
  locale = $state<Locale>('en');
  private formatters = new Map<string, unknown>();
  private table = $state.raw<Partial<Record<MessageKey, string>>>({});
  /** English beyond the first screen: only parts loaded on demand ask for it. */
  private englishMore = $state.raw<Partial<Record<MessageKey, string>>>({});

  get dir(): 'rtl' | 'ltr' {
    return RTL.has(this.locale) ? 'rtl' : 'ltr';
  }

  async init() {
    let saved: string | null = null;
    try {
      saved = localStorage.getItem(LOCALE_KEY);
    } catch {
      // No storage: follow the browser.
    }
    const browsers = navigator.languages?.length ? navigator.languages : [navigator.language];
    const wanted = matchLocale(saved) ?? browsers.map(matchLocale).find(Boolean) ?? 'en';
    // Not awaited: nothing on the first screen needs it, and it arrives long before anyone can
    // open a dialog; texts re-render when it lands.
    void import('./locales/en.more').then(
      (m) => (this.englishMore = m.default),
      () => undefined,
    );
    await this.set(wanted, false);
  }

  async set(locale: Locale, remember = true) {
    this.table = locale === 'en' ? {} : await loaders[locale]();
    this.locale = locale;
    document.documentElement.lang = locale;
    document.documentElement.dir = this.dir;
    if (remember) {
      try {
        localStorage.setItem(LOCALE_KEY, locale);
      } catch {
        // Not remembered.
      }
    }
  }

  t = (key: MessageKey, params?: Record<string, string | number>): string => {
    const template = this.table[key] ?? (en as Partial<Record<MessageKey, string>>)[key] ?? this.englishMore[key] ?? key;
    if (!params) return template;
    return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
      name in params ? String(params[name]) : whole,
    );
  };

  /**
   * A counted phrase in the locale's plural form (`Intl.PluralRules`: Arabic has six forms,
   * Hebrew three, English two): `<family>.<category>` keys, with the count in its digits.
   */
  plural(family: PluralFamily, count: number): string {
    const category = this.formatter('plural', (l) => new Intl.PluralRules(l)).select(count) as PluralCategory;
    return this.t(`${family}.${category}` as MessageKey, { count: this.number(count) });
  }

  /**
   * The locale's formatter of one kind, made once per locale: building an `Intl` formatter
   * costs far more than formatting with it, and a timeline formats a time per message.
   */
  private formatter<F>(kind: string, make: (locale: Locale) => F): F {
    const locale = this.locale;
    const key = `${locale}|${kind}`;
    let made = this.formatters.get(key) as F | undefined;
    if (!made) {
      made = make(locale);
      this.formatters.set(key, made);
    }
    return made;
  }

  time(ms: number): string {
    return this.formatter('time', (l) => new Intl.DateTimeFormat(l, { hour: 'numeric', minute: '2-digit' })).format(ms);
  }

  day(ms: number): string {
    const date = new Date(ms);
    const today = new Date();
    const yesterday = new Date(today.getTime() - 86_400_000);
    if (date.toDateString() === today.toDateString()) return this.t('msg.today');
    if (date.toDateString() === yesterday.toDateString()) return this.t('msg.yesterday');
    return this.formatter('day', (l) => new Intl.DateTimeFormat(l, { dateStyle: 'full' })).format(date);
  }

  full(ms: number): string {
    return this.formatter('full', (l) => new Intl.DateTimeFormat(l, { dateStyle: 'medium', timeStyle: 'short' })).format(ms);
  }

  number(n: number): string {
    return this.formatter('number', (l) => new Intl.NumberFormat(l)).format(n);
  }

  /** A byte count for people: "340 B", "1.2 MB", in the locale's digits and unit names. */
  size(bytes: number): string {
    const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;
    let value = Math.max(0, bytes);
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return new Intl.NumberFormat(this.locale, {
      style: 'unit',
      unit: units[unit],
      // "604 bytes", not the short form's "604 byte"; larger units read well short ("1.2 MB").
      unitDisplay: unit === 0 ? 'long' : 'short',
      maximumFractionDigits: unit === 0 || value >= 10 ? 0 : 1,
    }).format(value);
  }
}

type PluralCategory = 'zero' | 'one' | 'two' | 'few' | 'many' | 'other';
/** Key families with one key per plural category. */
export type PluralFamily = MessageKey extends infer K
  ? K extends `${infer F}.other`
    ? F
    : never
  : never;

export const i18n = new I18n();
export const t = i18n.t;
export type { MessageKey };
