// The choices of the notification preference forms (room and account), upstream's values.

import { t } from '../../lib/i18n.svelte';

export const LEVELS = ['all', 'mentions', 'nothing'] as const;
/** Upstream's built-in notification sounds, plus none. */
export const SOUNDS = ['none', 'chime', 'beep', 'ding', 'droplet', 'highbell', 'seasons'] as const;

export function levelLabel(level: string): string {
  if (level === 'all') return t('notif.all');
  if (level === 'mentions') return t('notif.mentions');
  return t('notif.nothing');
}

export function soundLabel(sound: string): string {
  return sound === 'none' ? t('notif.no_sound') : sound[0].toUpperCase() + sound.slice(1);
}
