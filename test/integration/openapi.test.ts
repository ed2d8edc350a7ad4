// The API documents on the real server: GET /openapi.json passes the OpenAPI 3.1 validator, holds exactly the routes GET / lists,
// describes the answers the server gives and the parameter bounds it enforces; the WebSocket client schemas agree with the server's parser.
import { readFileSync, readdirSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClientMessage } from '../../src/protocol/client-message.js';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { frameProblem } from '../helpers/ws-client.js';

const SYMBOL = 'US.AAPL';
const PROTOCOL_DIR = new URL('../../docs/protocol/', import.meta.url);

interface Operation {
  operationId: string;
  parameters: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
  [k: string]: unknown;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object> };
}

let rt: Runtime;
let doc: Document;

beforeAll(async () => {
  rt = await startRuntime({ symbols: [SYMBOL], shards: 1, simUpdatesPerSecond: 50, simTradesPerUpdate: 1 });
  const r = await fetch(`${rt.http}/openapi.json`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await r.json()) as Document;
});
afterAll(() => rt?.stop());

const operations = (): [string, string, Operation][] =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]): [string, string, Operation] => [method.toUpperCase(), path, op]));

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors)?.slice(0, 2000)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('holds every route GET / lists, and no other', async () => {
    const index = (await rt.get<{ routes: { method: string; path: string }[] }>('/')).body.routes;
    const listed = new Set(index.map((r) => `${r.method} ${r.path}`));
    const documented = new Set(operations().map(([method, path]) => `${method} ${path}`));
    expect([...listed].filter((r) => !documented.has(r)), 'listed, not documented').toEqual([]);
    expect([...documented].filter((r) => !listed.has(r)), 'documented, not listed').toEqual([]);
    expect(listed.has('GET /openapi.json')).toBe(true);
    expect(listed.has('GET /api/v1/cache/stock-prices/{symbol}')).toBe(true);
  });

  it('describes every operation: its path parameters, a success answer and errors, nothing left undescribed', () => {
    for (const [method, path, op] of operations()) {
      const what = `${method} ${path}`;
      expect(op['x-undescribed'], what).toBeUndefined();
      const params = op.parameters.filter((p) => p.in === 'path').map((p) => p.name).sort();
      expect(params, what).toEqual([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort());
      const statuses = Object.keys(op.responses);
      expect(statuses.some((s) => /^(101|20\d)$/.test(s)), what).toBe(true);
      expect(statuses.some((s) => /^[45]\d\d$/.test(s)), what).toBe(true);
    }
    const post = doc.paths['/api/v1/cache/stock-prices/bulk'].post as Operation & { requestBody: { content: Record<string, { schema: { type: string } }> } };
    expect(post.requestBody.content['application/json'].schema.type).toBe('array');
  });

  it('is built once', async () => {
    const [a, b] = await Promise.all([fetch(`${rt.http}/openapi.json`), fetch(`${rt.http}/openapi.json`)]);
    expect(await a.text()).toBe(await b.text());
  });
});

describe('the document against the server', () => {
  const ajv = new Ajv2020({ strict: false, allowUnionTypes: true });
  ajv.addFormat('date-time', true);
  ajv.addFormat('uri', true);

  /** The body of GET `url` validated against the JSON schema its operation documents for `status`. */
  async function answers(path: string, url: string, status = 200): Promise<unknown> {
    const r = await fetch(rt.http + url, { headers: rt.admin });
    expect(r.status, url).toBe(status);
    const body = (await r.json()) as unknown;
    const ref = doc.paths[path].get.responses[status].content!['application/json'].schema.$ref!;
    const validate = ajv.compile(doc.components.schemas[ref.split('/').at(-1)!]);
    expect(validate(body) ? [] : validate.errors, `${url}: ${JSON.stringify(body).slice(0, 300)}`).toEqual([]);
    return body;
  }

  it('answers the success shapes it documents', async () => {
    for (let i = 0; i < 100 && (await rt.get<{ trades: unknown[] }>(`/trades/${SYMBOL}`)).body.trades.length === 0; i++) await sleep(100);
    await answers('/', '/');
    await answers('/health', '/health');
    await answers('/symbols', '/symbols');
    await answers('/openapi.json', '/openapi.json');
    await answers('/ticker', '/ticker');
    await answers('/ticker/{symbol}', `/ticker/${SYMBOL}`);
    await answers('/candles/{symbol}', `/candles/${SYMBOL}?interval=1s`);
    await answers('/trades/{symbol}', `/trades/${SYMBOL}?limit=5`);
    await answers('/indicators/{symbol}', `/indicators/${SYMBOL}?interval=1s&names=sma2,macd,bb3&limit=5`);
    // The book routes answer the WebSocket messages themselves: their docs/protocol schemas hold too.
    expect(frameProblem(await answers('/orderbook/{symbol}/latest', `/orderbook/${SYMBOL}/latest`))).toBeUndefined();
    expect(frameProblem(await answers('/orderbook/{symbol}/today', `/orderbook/${SYMBOL}/today?resolution=1s`))).toBeUndefined();
    expect(frameProblem(await answers('/orderbook/{symbol}/history', `/orderbook/${SYMBOL}/history?hours=1`))).toBeUndefined();
    await answers('/candles/{symbol}', `/candles/${SYMBOL}?limit=0`, 400);
    await answers('/trades/{symbol}', '/trades/NOPE.X', 404);
  });

  it('enforces the bounds it documents for integer query parameters, naming the parameter', async () => {
    /** A valid value of each required parameter the loop does not vary. */
    const required: Record<string, string> = { names: 'sma2' };
    let checked = 0;
    for (const [method, path, op] of operations()) {
      if (method !== 'GET' || path.startsWith('/api/') || !path.includes('{symbol}')) continue;
      for (const p of op.parameters.filter((x) => x.in === 'query' && x.schema.type === 'integer')) {
        const { minimum, maximum } = p.schema as { minimum: number; maximum: number };
        const others = op.parameters.filter((x) => x.in === 'query' && x.required && x.name !== p.name).map((x) => `&${x.name}=${required[x.name]}`).join('');
        const url = (v: number) => `${path.replace('{symbol}', SYMBOL)}?${p.name}=${v}${others}`;
        for (const v of [minimum, maximum]) expect((await fetch(rt.http + url(v))).status, url(v)).toBe(200);
        for (const v of [minimum - 1, maximum + 1]) {
          const r = await fetch(rt.http + url(v));
          expect(r.status, url(v)).toBe(400);
          expect(((await r.json()) as { error: { message: string } }).error.message, url(v)).toMatch(new RegExp(`^${p.name}: `));
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4); // hours, and limit of candles, indicators, trades
  });
});

describe('the WebSocket client schemas (docs/protocol/client)', () => {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
  ajv.addSchema(JSON.parse(readFileSync(new URL('defs.schema.json', PROTOCOL_DIR), 'utf8')) as object);
  const byAction = new Map(readdirSync(new URL('client/', PROTOCOL_DIR)).map((f) => {
    const s = JSON.parse(readFileSync(new URL(`client/${f}`, PROTOCOL_DIR), 'utf8')) as { properties: { action: { const: string } } };
    return [s.properties.action.const, ajv.compile(s)] as const;
  }));

  it('has one schema per action, and every server message type one of its own', () => {
    expect([...byAction.keys()].sort()).toEqual(['auth', 'ping', 'subscribe', 'unsubscribe']);
    const server = readdirSync(new URL('server/', PROTOCOL_DIR)).map((f) => f.replace('.schema.json', '')).sort();
    expect(server).toEqual([...(doc.paths['/ws'].get['x-websocket-messages'] as { server: string[] }).server].sort());
  });

  it('accepts what the server accepts and refuses what it refuses', () => {
    const messages: unknown[] = [
      { action: 'subscribe', symbol: SYMBOL },
      { action: 'subscribe', symbol: SYMBOL, channels: ['book', 'trades', 'candles:1m', 'ticker'], resolution: '1m' },
      { action: 'subscribe', symbol: SYMBOL, resolution: 'none', resume: { seq: 3, epoch: 7 } },
      { action: 'subscribe', symbol: SYMBOL, resolution: 60, resume: { trades: { seq: 0, epoch: 1 }, 'candles:1s': { seq: 2, epoch: 3 } } },
      { action: 'subscribe', symbol: SYMBOL, resolution: '3600', extra: 'ignored' },
      ...['1s', '01m', '60m', '1h', '0003600s', '90'].map((resolution) => ({ action: 'subscribe', symbol: SYMBOL, resolution })),
      ...['0s', '0', '3601', '61m', '2h', '1d', '00000001s', 'None', 0, 3601].map((resolution) => ({ action: 'subscribe', symbol: SYMBOL, resolution })),
      { action: 'subscribe', symbol: '' },
      { action: 'subscribe', symbol: 'US AAPL' },
      { action: 'subscribe', symbol: SYMBOL, channels: [] },
      { action: 'subscribe', symbol: SYMBOL, channels: ['candles:2m'] },
      { action: 'subscribe', symbol: SYMBOL, resolution: 5.5 },
      { action: 'subscribe', symbol: SYMBOL, resume: { seq: -1, epoch: 1 } },
      { action: 'subscribe', symbol: SYMBOL, resume: { book: { seq: 1, epoch: 1 }, nope: { seq: 1, epoch: 1 } } },
      { action: 'unsubscribe', symbol: SYMBOL },
      { action: 'unsubscribe', symbol: SYMBOL, channels: ['trades'] },
      { action: 'unsubscribe' },
      { action: 'ping' },
      { action: 'ping', id: 7 },
      { action: 'ping', id: 'x'.repeat(64) },
      { action: 'ping', id: 'x'.repeat(65) },
      { action: 'ping', id: true },
      { action: 'auth', token: 'tp_key' },
      { action: 'auth', token: '' },
      { action: 'auth' },
    ];
    for (const m of messages) {
      const server = parseClientMessage(JSON.stringify(m)).ok;
      const validate = byAction.get((m as { action: string }).action)!;
      expect(validate(m), `${JSON.stringify(m)}: ${JSON.stringify(validate.errors)}`).toBe(server);
    }
  });
});
