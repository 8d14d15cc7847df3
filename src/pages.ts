// Paged reads with one page read ahead, shared by the full pass's three streams: the desired
// state's SQL pages (src/store/desiredState.ts) and the HTTP target's list
// (src/targets/http/httpTarget.ts). A full pass otherwise waited on Postgres and the target
// in turn: half of a 100,000-member pass was idle (docs/benchmarks.md, issue 11 third round).

/**
 * The pages `fetch(first)`, `fetch(after(page))`, … until `after` returns undefined. Each next
 * page is requested before the current one is yielded, so it loads while the caller works
 * through this one. A stream abandoned mid-way leaves its read-ahead handled (no unhandled
 * rejection); a stream read on gets the error at its `await`.
 */
export async function* readAhead<C, P>(first: C, fetch: (cursor: C) => Promise<P>, after: (page: P) => C | undefined): AsyncGenerator<P> {
  const start = (cursor: C): Promise<P> => {
    const p = fetch(cursor);
    p.catch(() => {});
    return p;
  };
  let next: Promise<P> | undefined = start(first);
  while (next) {
    const page: P = await next;
    const cursor = after(page);
    next = cursor === undefined ? undefined : start(cursor);
    yield page;
  }
}
