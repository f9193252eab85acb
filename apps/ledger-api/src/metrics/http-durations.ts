import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BoundHistogram, HistogramSeries } from './bound-histogram';

/**
 * Every answer's duration in `ledger_http_request_duration_seconds`, by method, route and status. Each route
 * gets its own hook as Fastify registers it (`onRoute`), holding its series per method and status, so a
 * request neither builds `request.routeOptions` (an object per access) nor a labels object, and nothing is
 * hashed. Requests no route matched are observed by one instance hook, as route `unmatched`. Call before the
 * routes are registered (before `app.init()`).
 */
export function observeHttpDurations(
  instance: FastifyInstance,
  histogram: BoundHistogram<'method' | 'route' | 'status'>,
): void {
  const observer = (route: string) => {
    const bound = new Map<string, HistogramSeries>();
    return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      const key = `${request.method} ${reply.statusCode}`;
      let series = bound.get(key);
      if (series === undefined) {
        series = histogram.bind({ method: request.method, route, status: String(reply.statusCode) });
        bound.set(key, series);
      }
      series.observe(reply.elapsedTime / 1000);
      done();
    };
  };
  instance.addHook('onRoute', (route) => {
    const hooks = route.onResponse;
    const own = observer(route.url);
    route.onResponse = hooks === undefined ? [own] : [...(Array.isArray(hooks) ? hooks : [hooks]), own];
  });
  // The not-found handler's context runs only the instance's hooks: a matched route never gets here.
  const unmatched = observer('unmatched');
  instance.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unmatched(request, reply, done);
    else done();
  });
}
