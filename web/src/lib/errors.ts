// Server refusals as sentences for people: the server's error strings and `errorType`s
// (Rocket.Chat's, in English and often terse: "unauthorized", "Email already exists. [403]")
// become localised text; anything unknown keeps the server's words inside a localised frame.

import { ApiError } from './api';
import { t, type MessageKey } from './i18n.svelte';

/** Which form the error came from: a failed login is always "wrong credentials" to a person. */
export type ErrorContext = 'login' | 'register' | 'general';

const BY_TYPE: Record<string, MessageKey> = {
  'error-invalid-email': 'error.email_invalid',
  'error-user-registration-disabled': 'error.registration_disabled',
  'error-user-registration-secret': 'error.registration_secret',
  'error-the-field-is-required': 'error.field_required',
  'error-field-unavailable': 'error.field_unavailable',
  'error-login-blocked-for-user': 'error.login_blocked',
  'error-login-blocked-for-ip': 'error.login_blocked',
  'error-user-is-not-activated': 'error.user_not_activated',
  'error-too-many-requests': 'error.too_many_requests',
  'error-password-policy-not-met': 'error.password_policy',
  'error-password-policy-not-met-minLength': 'error.password_policy',
  'error-password-policy-not-met-maxLength': 'error.password_policy',
  'error-password-policy-not-met-repeatingCharacters': 'error.password_policy',
  'error-password-policy-not-met-oneLowercase': 'error.password_policy',
  'error-password-policy-not-met-oneUppercase': 'error.password_policy',
  'error-password-policy-not-met-oneNumber': 'error.password_policy',
  'error-password-policy-not-met-oneSpecial': 'error.password_policy',
};

const BY_TEXT: [RegExp, MessageKey][] = [
  [/^Email already exists/i, 'error.email_taken'],
  [/^Username is already in use/i, 'error.username_taken'],
  [/^The username provided is not valid/i, 'error.username_invalid'],
  [/^Name contains invalid characters/i, 'error.name_invalid'],
  [/^Invalid email/i, 'error.email_invalid'],
];

/** A localised sentence for `error`, thrown by a call made from `context`. */
export function humanError(error: unknown, context: ErrorContext = 'general'): string {
  if (!(error instanceof ApiError)) {
    if (error instanceof TypeError) return t('error.network');
    return t('common.error', { error: error instanceof Error ? error.message : String(error) });
  }
  if (error.status === 0 || error.message === 'network') return t('error.network');
  const body = (error.body ?? {}) as { error?: unknown; errorType?: unknown };
  const code = typeof body.errorType === 'string' ? body.errorType : typeof body.error === 'string' ? body.error : '';
  const byType = BY_TYPE[code] ?? BY_TYPE[error.errorType ?? ''];
  if (byType) return t(byType);
  for (const [pattern, key] of BY_TEXT) if (pattern.test(error.message)) return t(key);
  if (error.status === 429) return t('error.too_many_requests');
  if (context === 'login' && error.status === 401) return t('error.bad_credentials');
  if (error.status === 401) return t('error.session_expired');
  if (error.status === 403) return t('error.not_allowed');
  return t('common.error', { error: error.message.replace(/\s*\[[^\]]*\]\s*$/, '') });
}
