import * as http from 'node:http';

export interface KeepAliveFetch {
  readonly fetch: typeof fetch;
  close(): void;
}

/**
 * Just enough of `fetch` for `LedgerClient`, on `node:http` with a keep-alive agent. The built-in fetch costs
 * several times more CPU per request, and in the simulator the clients share the machine with the ledger they
 * measure.
 */
export function keepAliveFetch(maxSockets: number): KeepAliveFetch {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const fetchOverHttp = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const body = typeof init.body === 'string' ? init.body : undefined;
      const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const request = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method: init.method ?? 'GET',
          headers,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('error', reject);
          incoming.on('end', () =>
            resolve(minimalResponse(incoming, Buffer.concat(chunks).toString('utf8'))),
          );
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  return { fetch: fetchOverHttp as typeof fetch, close: () => agent.destroy() };
}

function minimalResponse(incoming: http.IncomingMessage, text: string): Response {
  const status = incoming.statusCode ?? 0;
  const response = {
    ok: status >= 200 && status < 300,
    status,
    statusText: incoming.statusMessage ?? '',
    headers: {
      get: (name: string): string | null => {
        const value = incoming.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    text: async () => text,
    json: async (): Promise<unknown> => JSON.parse(text),
  };
  return response as unknown as Response;
}
