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
