// Slash commands in the composer: the server's list (loaded once), the popup's texts, and what
// happens to a message that starts with `/` — as upstream's client: a known command runs on the
// server (`commands.run`), an unknown one is refused here unless the server allows sending it.

import { api, ApiError } from './api';
import { t, type MessageKey } from './i18n.svelte';
import { session } from './stores/session.svelte';
import { timelines } from './stores/timelines.svelte';
import type { SlashCommand } from './types';

class Commands {
  list = $state<SlashCommand[]>([]);
  private loading: Promise<void> | null = null;

  /** Loads the list once; a failure leaves it empty and tries again next time. */
  load(): Promise<void> {
    if (this.list.length) return Promise.resolve();
    this.loading ??= api
      .commands()
      .then(({ commands }) => {
        this.list = commands;
      })
      .catch(() => {})
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  find(name: string): SlashCommand | undefined {
    const lower = name.toLowerCase();
    return this.list.find((c) => c.command === lower);
  }

  /** Commands starting with `prefix` that the user may run in `rid`. */
  matching(prefix: string, rid: string): SlashCommand[] {
    const lower = prefix.toLowerCase();
    return this.list.filter((c) => c.command.startsWith(lower) && allowed(c, rid));
  }

  /**
   * Handles `text` if it is a command; false when it is an ordinary message (no leading `/`,
   * or an unknown command the server's settings let through).
   */
  async submit(rid: string, text: string, tmid?: string): Promise<boolean> {
    const parsed = /^\/(\S+)([\s\S]*)$/.exec(text);
    if (!parsed) return false;
    const [, name, rest] = parsed;
    await this.load();
    const command = this.find(name);
    if (!command) {
      if (session.allowUnknownCommands) return false;
      timelines.localNotice(rid, t('cmd.unknown', { command: name }), tmid);
      return true;
    }
    if (!allowed(command, rid)) {
      timelines.localNotice(rid, t('cmd.no_permission', { command: command.command }), tmid);
      return true;
    }
    try {
      await api.runCommand(command.command, rest.trim(), rid, tmid);
    } catch (error) {
      const reason = error instanceof ApiError && error.message ? `\n${error.message}` : '';
      timelines.localNotice(rid, t('cmd.failed', { command: command.command }) + reason, tmid);
    }
    return true;
  }
}

/** Whether the user holds one of the command's permissions (or it needs none). */
function allowed(command: SlashCommand, rid: string): boolean {
  const needs = command.permission === undefined ? [] : [command.permission].flat();
  return needs.length === 0 || needs.some((permission) => session.can(permission, rid));
}

/** Upstream's translation key, in words (the key itself when this client has none). */
export function commandText(key: string | undefined): string {
  if (!key) return '';
  const translated = t(`cmd.${key}` as MessageKey);
  return translated === `cmd.${key}` ? key : translated;
}

export const commands = new Commands();
