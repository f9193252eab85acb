/** User, device and media ids: 1–128 of `A-Z a-z 0-9 . _ : -`, first one alphanumeric. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

export const MEDIA_TYPES = ['thumbnail', 'event_video', 'live_stream'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

export const VIEW_ACTIONS = ['delivered', 'opened', 'played'] as const;
export type ViewAction = (typeof VIEW_ACTIONS)[number];

export type Role = 'owner' | 'viewer';

export const DENIAL_REASONS = [
  'unknown_device',
  'decommissioned',
  'revoked',
  'expired',
  'transferred',
  'never_granted',
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

export const MAX_REASON_LENGTH = 1024;
export const MAX_MODEL_LENGTH = 256;

/**
 * The one rule for free text (a reason, a device model), over HTTP and in import files alike: a string — never
 * `null` —, 1–`max` characters, no control characters but tab, CR and LF. Returns what is wrong, or undefined.
 */
export function freeTextProblem(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0 || value.length > max) return `must be 1-${max} characters`;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f)
      return 'must not contain control characters';
  }
  return undefined;
}
