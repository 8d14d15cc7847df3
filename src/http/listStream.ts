// Streamed list responses (RFC 7644 §3.4.2 ListResponse) with bounded memory (issue 10: one
// GET /Users?count=1000 over users with large attributes took +2.1 GB for a 466 MB response,
// eight at once crashed the process). The page is first read as keys with an approximate
// size each; rows are then fetched, rendered and written in chunks of at most CHUNK_BYTES,
// waiting for the socket to drain between chunks (backpressure), so a request holds about
// one chunk in memory whatever the page weighs and however slowly the client reads.
import type { Request, Response } from 'express';
import type { ListParams } from '../scim/listParams.js';
import { encodeCursor } from '../scim/listParams.js';
import { LIST_RESPONSE_SCHEMA } from '../scim/schemas.js';
import type { ListPage, RowKey } from '../store/list.js';
import { SCIM_CONTENT_TYPE } from './respond.js';

/** Budget of one chunk, in approximate bytes of stored JSON (RowKey.weight). */
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** Most rows in one chunk (one `id = any(…)` query each). */
export const CHUNK_ROWS = 200;

/** Splits keys, in order, into chunks within the budget (a heavier row goes alone). */
export function chunkKeys(keys: RowKey[], maxBytes = CHUNK_BYTES, maxRows = CHUNK_ROWS): RowKey[][] {
  const chunks: RowKey[][] = [];
  let cur: RowKey[] = [];
  let bytes = 0;
  for (const k of keys) {
    const w = Number(k.weight) || 0;
    if (cur.length && (bytes + w > maxBytes || cur.length >= maxRows)) {
      chunks.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(k);
    bytes += w;
  }
  if (cur.length) chunks.push(cur);
  return chunks;
}

/** Resolves when the socket can take more, or rejects when the client went away. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => (res.off('close', onClose), resolve());
    const onClose = () => (res.off('drain', onDrain), reject(new Error('client closed the connection during a list response')));
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

async function write(res: Response, text: string): Promise<void> {
  if (res.destroyed) throw new Error('client closed the connection during a list response');
  if (!res.write(text)) await drained(res);
}

/**
 * Writes the ListResponse of `page`: `load` fetches and renders the rows of one chunk (rows
 * deleted meanwhile are left out; itemsPerPage, written last, counts what was sent). Errors
 * before the first byte propagate (a normal SCIM error); after it the connection is destroyed,
 * so the client sees a truncated body, never a well-formed partial list.
 */
export async function streamListResponse(
  req: Request,
  res: Response,
  p: ListParams,
  page: ListPage<RowKey>,
  load: (ids: string[]) => Promise<{ id: string }[]>,
): Promise<void> {
  const chunks = chunkKeys(page.rows);
  // The first chunk is loaded before the status line: a failure there is still a clean 4xx/5xx.
  const first = chunks.length ? await load(chunks[0]!.map((k) => k.id)) : [];
  const head: Record<string, unknown> = { schemas: [LIST_RESPONSE_SCHEMA], totalResults: page.total };
  if (p.cursor === undefined) head.startIndex = p.startIndex;
  else if (page.next) head.nextCursor = encodeCursor(page.next);
  res.status(200).setHeader('Content-Type', SCIM_CONTENT_TYPE);
  const open = `${JSON.stringify(head).slice(0, -1)},"Resources":[`;
  if (chunks.length <= 1) {
    // One chunk (every lookup an IdP sends, e.g. userName eq): the whole body in one write,
    // with a Content-Length, like any other SCIM response.
    const { text, sent } = renderChunk(chunks[0] ?? [], first, 0);
    const body = Buffer.from(`${open}${text}],"itemsPerPage":${sent}}`, 'utf8');
    res.setHeader('Content-Length', body.length);
    res.end(body);
    return;
  }
  let sent = 0;
  try {
    await write(res, open);
    for (let i = 0; i < chunks.length; i++) {
      const rendered = i === 0 ? first : await load(chunks[i]!.map((k) => k.id));
      // One write per chunk: a write per row costs a syscall and a chunk header each.
      const part = renderChunk(chunks[i]!, rendered, sent);
      if (part.text) await write(res, part.text);
      sent = part.sent;
    }
    res.end(`],"itemsPerPage":${sent}}`);
  } catch (err) {
    req.log.warn({ err, sent }, 'list response cut short');
    res.destroy();
  }
}

/**
 * The JSON text of one chunk's rows in the page's order (the chunk query returns rows in any
 * order; rows deleted meanwhile are left out), preceded by a comma when rows were sent before.
 * Returns the text and the count of rows sent so far, this chunk's included.
 */
function renderChunk(keys: RowKey[], rendered: { id: string }[], sentBefore: number): { text: string; sent: number } {
  const byId = new Map(rendered.map((r) => [r.id, r]));
  const parts: string[] = [];
  for (const k of keys) {
    const r = byId.get(k.id);
    if (r) parts.push(JSON.stringify(r));
  }
  const sent = sentBefore + parts.length;
  return { text: parts.length ? `${sentBefore ? ',' : ''}${parts.join(',')}` : '', sent };
}
