/** The largest request any transport accepts: an HTTP body, a gRPC message (contract §3: 413 above it). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;
