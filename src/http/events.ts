import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LedgerEvent } from '../store/port/index.js';
import type { HttpContext, RouteRequest } from './context.js';
import { BASE_HEADERS, sendError, type HttpErrorCode } from './errors.js';
import { EVENT_CATEGORIES, categoryOf, streamEventView, type EventCategory } from './views.js';

const PAGE = 200;
const DEFAULT_CATEGORIES: readonly EventCategory[] = ['decision', 'escalation', 'intervention'];

/**
 * GET /events: Server-Sent Events built from the ledger. The SSE id is the
 * ledger sequence, so `Last-Event-ID` resumes exactly where the client left
 * off, on any replica, since every process reads the same store (it polls
 * the store, so events appended by other processes, the CLI included, are
 * seen too). Filters: `?agent=`, `?category=decision,escalation,...`;
 * `?backlog=N` starts N ledger events back when there is no Last-Event-ID.
 */
export async function handleEvents(ctx: HttpContext, r: RouteRequest): Promise<void> {
  const { req, res, url } = r;
  if (req.method !== 'GET') return reject(ctx, r, 'METHOD_NOT_ALLOWED', { headers: { Allow: 'GET' } });
  const accept = req.headers.accept;
  if (accept && !/text\/event-stream|\*\/\*/i.test(accept)) return reject(ctx, r, 'NOT_ACCEPTABLE');

  const { ledger } = ctx.rt.store;
  const agent = url.searchParams.get('agent');
  const rawCategories = url.searchParams.get('category');
  const categories = rawCategories ? rawCategories.split(',').map((c) => c.trim()) : [...DEFAULT_CATEGORIES];
  const unknown = categories.find((c) => !EVENT_CATEGORIES.includes(c as EventCategory));
  if (unknown !== undefined) return reject(ctx, r, 'INVALID_REQUEST', { message: `unknown category \`${unknown.slice(0, 40)}\` (use ${EVENT_CATEGORIES.join(', ')})` });
  const wanted = new Set(categories);

  const lastId = (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('last_event_id') ?? undefined;
  let cursor: number;
  if (lastId !== undefined) {
    if (!/^\d{1,15}$/.test(lastId)) return reject(ctx, r, 'INVALID_REQUEST', { message: 'Last-Event-ID must be a ledger sequence number' });
    cursor = Number(lastId);
  } else {
    const backlog = Number(url.searchParams.get('backlog') ?? 0);
    if (!Number.isInteger(backlog) || backlog < 0 || backlog > ctx.cfg.events.max_backlog) {
      return reject(ctx, r, 'INVALID_REQUEST', { message: `backlog must be an integer from 0 to ${ctx.cfg.events.max_backlog}` });
    }
    cursor = Math.max(0, (await ledger.headSeq()) - backlog);
  }
  if (ctx.streams.open >= ctx.cfg.events.max_connections) return reject(ctx, r, 'STREAM_LIMIT');

  ctx.streams.open++;
  const ended = new AbortController();
  const end = () => ended.abort();
  res.once('close', end);
  ctx.shutdown.addEventListener('abort', end, { once: true });
  res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  const write = async (text: string) => {
    if (!res.write(text)) await Promise.race([once(res, 'drain'), once(ended.signal, 'abort')]).catch(() => undefined);
  };
  await write(`retry: 2000\n: mandate events from seq ${cursor}\n\n`);
  const keepalive = setInterval(() => void write(`: keepalive ${new Date().toISOString()}\n\n`), ctx.cfg.events.keepalive_ms);

  const concerns = async (e: LedgerEvent): Promise<string> => {
    // An intervention's event is recorded under its issuer; it concerns its target.
    if (categoryOf(e.type) === 'intervention' && e.decision_id) {
      const target = (await ctx.rt.store.agents.intervention(e.decision_id))?.target_agent;
      if (target) return target;
    }
    return e.agent;
  };

  // The stream lives only as long as its credential: it ends at the ledger event that revokes it.
  const credential = r.principal.kind === 'operator' ? r.principal.credential : null;
  try {
    while (!ended.signal.aborted) {
      const page = await ledger.page(cursor, PAGE);
      for (const e of page) {
        cursor = e.seq;
        if (e.type === 'CredentialRevoked' && credential !== null && e.data['credential_id'] === credential) {
          await write(': credential revoked\n\n');
          end();
          break;
        }
        if (!wanted.has(categoryOf(e.type))) continue;
        const who = await concerns(e);
        if (agent !== null && who !== agent) continue;
        await write(`id: ${e.seq}\nevent: ${categoryOf(e.type)}\ndata: ${JSON.stringify(streamEventView(e, who))}\n\n`);
        if (ended.signal.aborted) break;
      }
      if (page.length < PAGE) await sleep(ctx.cfg.events.poll_ms, undefined, { signal: ended.signal }).catch(() => undefined);
    }
  } catch (err) {
    ctx.log.warn({ err: { name: (err as Error).name } }, 'event stream failed');
  } finally {
    clearInterval(keepalive);
    ctx.shutdown.removeEventListener('abort', end);
    ctx.streams.open--;
    res.end();
  }
}

function reject(ctx: HttpContext, r: RouteRequest, code: HttpErrorCode, opts: Parameters<typeof sendError>[2] = {}): void {
  ctx.metrics.rejected(code);
  sendError(r.res, code, opts);
}
