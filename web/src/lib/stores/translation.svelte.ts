// Automatic translation on screen: which language a message is read in (the room's choice in
// the user's subscription, or one message translated on request), whether the reader flipped
// a message back to its original, and the languages the server can translate into.

import { api } from '../api';
import type { Message } from '../types';
import { i18n } from '../i18n.svelte';
import { notifications } from './notifications.svelte';
import { rooms } from './rooms.svelte';
import { session } from './session.svelte';

export interface Language {
  language: string;
  name: string;
}

class Translation {
  /** Message id → the language the user asked it to be translated into ("Translate"). */
  requested = $state<Record<string, string>>({});
  /** Message ids whose original the user chose to see instead of the translation. */
  original = $state<Record<string, boolean>>({});
  /** Message id → what "Translate" answered, for copies of it no timeline keeps (search). */
  fetched = $state<Record<string, { msg: string; language: string; text: string }>>({});
  /** Message ids being translated on request. */
  busy = $state<Record<string, boolean>>({});
  /** The languages offered, named in `languagesLocale`. */
  languages = $state<Language[] | null>(null);
  private languagesLocale = '';

  /**
   * The language `message` is read in, if any: one asked for it alone, else the room's when
   * the user reads the room translated (never for their own messages, as upstream).
   */
  languageOf(message: Message): string | undefined {
    const asked = this.requested[message._id];
    if (asked) return asked;
    if (!session.canTranslate || message.u._id === session.me?._id) return undefined;
    const sub = rooms.subs[message.rid];
    return sub?.autoTranslate && sub.autoTranslateLanguage ? sub.autoTranslateLanguage : undefined;
  }

  /** The translation of `message` to show now (none while the original is chosen). */
  shown(message: Message): string | undefined {
    if (this.original[message._id]) return undefined;
    return this.translationOf(message);
  }

  private translationOf(message: Message): string | undefined {
    const language = this.languageOf(message);
    if (!language) return undefined;
    const fetched = this.fetched[message._id];
    const text =
      message.translations?.[language] ??
      (fetched && fetched.language === language && fetched.msg === message.msg ? fetched.text : undefined);
    return text && text !== message.msg ? text : undefined;
  }

  /** Whether `message` has a translation the toggle can switch to and from. */
  available(message: Message): boolean {
    return this.translationOf(message) !== undefined;
  }

  toggle(message: Message) {
    this.original[message._id] = !this.original[message._id];
  }

  /** The language "Translate" asks for: the room's choice, else the interface's. */
  targetFor(message: Message): string {
    const sub = rooms.subs[message.rid];
    return (sub?.autoTranslate && sub.autoTranslateLanguage) || this.interfaceLanguage();
  }

  /**
   * The offered language closest to the interface's: itself, else one of the same language
   * (the `pt-BR` interface reads `pt`, `zh` reads `zh-CN`); the interface's code when none is.
   */
  interfaceLanguage(): string {
    const locale = i18n.locale;
    const offered = this.languages ?? [];
    const base = (code: string) => code.toLowerCase().split(/[-_]/)[0];
    return (
      offered.find((l) => l.language.toLowerCase() === locale.toLowerCase())?.language ??
      offered.find((l) => base(l.language) === base(locale))?.language ??
      locale
    );
  }

  /** "Translate" on one message: asks the server now and shows the result in place. */
  async translate(message: Message) {
    const language = this.targetFor(message);
    this.busy[message._id] = true;
    try {
      const { message: translated } = await api.translateMessage(message._id, language);
      const text = translated.translations?.[language];
      if (!text || text === message.msg) {
        notifications.notify(i18n.t('translate.none'));
        return;
      }
      // The room's stream brings the stored translation to the timelines too.
      this.fetched[message._id] = { msg: message.msg, language, text };
      this.requested[message._id] = language;
      this.original[message._id] = false;
    } catch (error) {
      notifications.fail(error);
    } finally {
      delete this.busy[message._id];
    }
  }

  /** Loads the languages the server translates into, named in the interface's language. */
  async loadLanguages() {
    const locale = i18n.locale;
    if (this.languages && this.languagesLocale === locale) return;
    try {
      const { languages } = await api.supportedLanguages(locale);
      // The browser names languages in every interface language; the server only in a few.
      let names: Intl.DisplayNames | null = null;
      try {
        names = new Intl.DisplayNames([locale], { type: 'language', fallback: 'none' });
      } catch {
        names = null;
      }
      this.languages = languages.map(({ language, name }) => {
        let named: string | undefined;
        try {
          named = names?.of(language);
        } catch {
          named = undefined;
        }
        return { language, name: named || name };
      });
      this.languagesLocale = locale;
    } catch (error) {
      this.languages = [];
      notifications.fail(error);
    }
  }

  reset() {
    this.requested = {};
    this.fetched = {};
    this.original = {};
    this.busy = {};
    this.languages = null;
    this.languagesLocale = '';
  }
}

export const translation = new Translation();
