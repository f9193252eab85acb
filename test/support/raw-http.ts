import * as net from 'node:net';

/**
 * HTTP/1.1 over a plain socket, one request per connection, so tests can send what `fetch` refuses to:
 * invalid UTF-8, odd header bytes, unknown methods, repeated headers, malformed paths.
 */
export interface RawRequest {
  readonly method: string;
  /** Sent as is (no encoding applied). */
  readonly path: string;
  /** Header lines as [name, value] pairs, repeated names allowed; values are sent as latin1 bytes. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: Buffer | string;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export type RawOutcome =
  | { readonly kind: 'response'; readonly response: RawResponse }
  /** The server closed or reset the connection without a complete response. */
  | { readonly kind: 'closed'; readonly detail: string };

export function encodeRequest(request: RawRequest): Buffer {
  const body =
    request.body === undefined
      ? Buffer.alloc(0)
      : Buffer.isBuffer(request.body)
        ? request.body
        : Buffer.from(request.body);
  const lines = [`${request.method} ${request.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`);
  if (body.length > 0 || request.method === 'POST') lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
}

function parseResponse(data: Buffer, method: string): RawResponse | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  if (!status) return null;
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(end + 4);
  if (method === 'HEAD') body = Buffer.alloc(0);
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (body.length < length) return null;
    body = body.subarray(0, length);
  }
  return { status: Number(status[1]), headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Sends one request; resolves with the response, or with how the connection ended without one. */
export function sendRaw(port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawOutcome> {
  const payload = encodeRequest(request);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (outcome: RawOutcome | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const complete = (detail: string) => {
      const response = parseResponse(Buffer.concat(chunks), request.method);
      finish(response ? { kind: 'response', response } : { kind: 'closed', detail });
    };
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end(payload);
    });
    const timer = setTimeout(
      () =>
        finish(
          new Error(`no response within ${timeoutMs} ms to ${request.method} ${request.path.slice(0, 200)}`),
        ),
      timeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const soFar = Buffer.concat(chunks);
      const response = parseResponse(soFar, request.method);
      // An event stream never ends on its own: its headers are the whole answer we need.
      if (response && /text\/event-stream/.test(response.headers['content-type'] ?? '')) {
        finish({ kind: 'response', response });
      }
    });
    socket.on('end', () => complete('closed'));
    socket.on('close', () => complete('closed'));
    socket.on('error', (error: NodeJS.ErrnoException) => complete(error.code ?? error.message));
  });
}
