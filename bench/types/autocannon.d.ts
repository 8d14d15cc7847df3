// Types of the part of autocannon's programmatic API that bench/lib/load.mjs uses: autocannon
// 8 ships none (its README's "API" section is the reference these follow), and the .mjs files
// of bench/ are type-checked (tsconfig.typecheck.json).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  function autocannon(options: autocannon.Options): autocannon.Instance;

  namespace autocannon {
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string;
      /** Called before each request is sent; returns the request to send. */
      setupRequest?: (req: Request, context: Record<string, unknown>) => Request;
    }

    interface Options {
      url: string;
      connections?: number;
      pipelining?: number;
      headers?: Record<string, string>;
      requests?: Request[];
      /** Requests in all; ends the run instead of `duration`. */
      amount?: number;
      /** Seconds. */
      duration?: number;
      /** Requests per second over all connections. */
      overallRate?: number;
      /** Seconds before a request counts as a timeout. */
      timeout?: number;
    }

    /** Milliseconds. */
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      p50: number;
      p90: number;
      p99: number;
    }

    interface Result {
      '2xx': number;
      non2xx: number;
      errors: number;
      timeouts: number;
      /** Seconds. */
      duration: number;
      latency: Histogram;
      requests: Histogram;
      throughput: Histogram;
    }

    /** A running load: an EventEmitter ('response', 'done', …) that is also awaitable for its Result. */
    interface Instance extends EventEmitter, PromiseLike<Result> {
      stop(): void;
    }
  }

  export = autocannon;
}
