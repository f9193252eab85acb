// autocannon ships no types: the part of its programmatic API the benchmarks use.
declare module 'autocannon' {
  interface AutocannonRequest {
    readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
    readonly path?: string;
    readonly body?: string;
    readonly headers?: Record<string, string>;
  }
  interface AutocannonOptions {
    readonly url: string;
    readonly connections?: number;
    readonly duration?: number;
    readonly overallRate?: number;
    readonly headers?: Record<string, string>;
    readonly requests?: readonly AutocannonRequest[];
  }
  interface Histogram {
    readonly average: number;
    readonly total: number;
    readonly p50: number;
    readonly p99: number;
  }
  interface AutocannonResult {
    readonly requests: Histogram;
    readonly latency: Histogram;
    readonly non2xx: number;
    readonly errors: number;
  }
  function autocannon(options: AutocannonOptions): Promise<AutocannonResult>;
  export = autocannon;
}
