export type MediaType = 'thumbnail' | 'event_video' | 'live_stream';
export type ViewAction = 'delivered' | 'opened' | 'played';
export type Role = 'owner' | 'viewer';
export type DenialReason =
  'unknown_device' | 'decommissioned' | 'revoked' | 'expired' | 'transferred' | 'never_granted';

export interface TokenResponse {
  readonly token: string;
}
export interface RegisterDeviceRequest {
  deviceId: string;
  ownerId: string;
  actor: string;
  occurredAt?: string;
  model?: string;
}
export interface GrantRequest {
  userId: string;
  actor: string;
  reason?: string;
  expiresAt?: string;
  occurredAt?: string;
}
export interface RevokeRequest {
  userId: string;
  actor: string;
  reason?: string;
  occurredAt?: string;
}
export interface TransferRequest {
  newOwnerId: string;
  actor: string;
  reason?: string;
  keepViewers?: boolean;
  occurredAt?: string;
}
export interface DecommissionRequest {
  actor: string;
  reason?: string;
  occurredAt?: string;
}
export interface View {
  viewerId: string;
  deviceId: string;
  mediaId: string;
  mediaType: MediaType;
  action: ViewAction;
  occurredAt: string;
  servedBy?: string;
  decisionToken?: string;
}
export interface AuthorizeRequest {
  viewerId: string;
  deviceId: string;
  mediaId: string;
  mediaType: MediaType;
  action: ViewAction;
  servedBy?: string;
}
export type AuthorizeResponse =
  | { allowed: true; role: Role; token: string; eventId: string }
  | { allowed: false; reason: DenialReason; token: string; eventId: string };
export interface DeviceAccess {
  deviceId: string;
  owner: { userId: string; since: string } | null;
  viewers: Array<{ userId: string; role: Role; since: string; expiresAt: string | null }>;
  token: string;
}
export interface UserDevices {
  userId: string;
  devices: Array<{ deviceId: string; role: Role; since: string; expiresAt: string | null }>;
  token: string;
}
export interface CheckResponse {
  allowed: boolean;
  role: Role | null;
  token: string;
}
export interface BulkCheckResponse {
  results: Array<{ userId: string; deviceId: string; allowed: boolean; role: Role | null }>;
  token: string;
}
export interface ReplayRequest {
  from?: string;
  to?: string;
  deviceIds?: string[];
  viewerIds?: string[];
}
export interface Exposure {
  eventId: string;
  occurredAt: string;
  viewerId: string;
  deviceId: string;
  ownerId: string | null;
  mediaId: string;
  mediaType: MediaType;
  action: ViewAction;
  reason: DenialReason;
}
export interface IncidentReport {
  window: { from: string | null; to: string | null };
  logRange: { from: string; to: string };
  summary: {
    viewsExamined: number;
    exposures: number;
    viewersExposed: number;
    viewersOpened: number;
    viewersPlayedVideo: number;
    ownersAffected: number;
    devicesAffected: number;
    firstExposureAt: string | null;
    lastExposureAt: string | null;
  };
  exposures: Exposure[];
  digest: string;
}
export interface RelationshipChangeEvent {
  token: string;
  type: string;
  deviceId: string;
  userIds: string[];
  occurredAt: string;
}
