// End-to-end flow of the unmodified npm @qdrant/js-client-rest (1.19.x)
// against vexfs-unified-server over REST. Results are checked against the data
// sent and against a brute-force search computed here, not just status codes.
//
// Run: node --test test/   (see ../run.sh; VEXFS_BIN selects the binary)

import assert from 'node:assert/strict';
import { after, before, describe, test as nodeTest } from 'node:test';
import { QdrantClient } from '@qdrant/js-client-rest';
import { Server } from '../lib/server.mjs';

const DIM = 16;
const N = 1000;          // points in the main collection
const N_DIST = 300;      // points in each per-distance collection
const PAGE = 128;
const K = 10;
const SCORE_REL = 1e-4;
const SCORE_ABS = 1e-5;
const LARGER_IS_BETTER = { Cosine: true, Dot: true, Euclid: false, Manhattan: false };

// ---------------------------------------------------------------------------
// Deterministic data
// ---------------------------------------------------------------------------

function rng(seed) {            // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(r) {
  const u = 1 - r();
  const v = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function uuidFrom(r) {
  const hex = [];
  for (let i = 0; i < 32; i++) hex.push(Math.floor(r() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

const CITIES = ['Berlin', 'London', 'Paris', 'Tokyo', 'Lima'];

function makeDataset(n, seed) {
  const r = rng(seed);
  const ids = [];
  const vectors = [];
  const payloads = [];
  for (let i = 0; i < n; i++) {
    ids.push(i % 10 === 0 ? uuidFrom(r) : i * 3 + 1);
    // float32 values: what the server stores and returns bit-exactly
    vectors.push(Array.from({ length: DIM }, () => Math.fround(gauss(r))));
    payloads.push({
      idx: i,
      group: i % 5,
      city: CITIES[i % CITIES.length],
      price: Math.round(r() * 100000) / 100,
      even: i % 2 === 0,
      tags: [`t${i % 3}`, `t${i % 4 + 10}`],
      nested: { level: { value: i } },
      text: `Grüße ${i} 🚀`,
    });
  }
  const queries = Array.from({ length: 3 }, () =>
    Array.from({ length: DIM }, () => Math.fround(gauss(r))));
  return { ids, vectors, payloads, queries, indexOf: new Map(ids.map((id, i) => [id, i])) };
}

// Qdrant orders ids: integers ascending, then UUIDs (as 128-bit numbers).
function idKey(id) {
  return typeof id === 'number' ? [0, id] : [1, id.replace(/-/g, '').toLowerCase()];
}
function idLess(a, b) {
  const [ka, va] = idKey(a);
  const [kb, vb] = idKey(b);
  return ka !== kb ? ka < kb : va < vb;
}

// ---------------------------------------------------------------------------
// Brute force
// ---------------------------------------------------------------------------

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

function score(distance, v, q) {
  switch (distance) {
    case 'Cosine': {
      const nv = norm(v);
      const nq = norm(q);
      return v.reduce((s, x, j) => s + (x / nv) * (q[j] / nq), 0);
    }
    case 'Dot': return v.reduce((s, x, j) => s + x * q[j], 0);
    case 'Euclid': return Math.sqrt(v.reduce((s, x, j) => s + (x - q[j]) ** 2, 0));
    case 'Manhattan': return v.reduce((s, x, j) => s + Math.abs(x - q[j]), 0);
    default: throw new Error(distance);
  }
}

function bruteForce(distance, ds, q, { filter = () => true, exclude = null } = {}) {
  const rows = [];
  for (let i = 0; i < ds.ids.length; i++) {
    if (ds.ids[i] === exclude || !filter(ds.payloads[i], ds.ids[i])) continue;
    rows.push({ id: ds.ids[i], score: score(distance, ds.vectors[i], q) });
  }
  rows.sort((a, b) => (LARGER_IS_BETTER[distance] ? b.score - a.score : a.score - b.score));
  return rows;
}

const close = (a, b) => Math.abs(a - b) <= SCORE_ABS + SCORE_REL * Math.abs(b);

// Server results vs brute-force ranking: same count, ordered by the metric,
// each score equal to that point's true score, ranked scores equal, ids equal
// except exact ties at the window boundaries.
function assertTopK(points, distance, ds, expectedAll, { k, offset = 0, what }) {
  const exp = expectedAll.slice(offset, offset + k);
  const detail = `${what}\n  expected ${JSON.stringify(exp.map((e) => e.id))}` +
    `\n  got      ${JSON.stringify(points.map((p) => p.id))}` +
    `\n  expected scores ${JSON.stringify(exp.map((e) => +e.score.toFixed(6)))}` +
    `\n  got scores      ${JSON.stringify(points.map((p) => +p.score.toFixed(6)))}`;
  assert.equal(points.length, exp.length, `result count: ${detail}`);
  assert.equal(new Set(points.map((p) => String(p.id))).size, points.length, `dup ids: ${detail}`);
  const trueScore = new Map(expectedAll.map((e) => [e.id, e.score]));
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    assert.ok(trueScore.has(p.id), `unexpected id ${p.id}: ${detail}`);
    assert.ok(close(p.score, trueScore.get(p.id)),
      `score of ${p.id} is ${p.score}, true ${trueScore.get(p.id)}: ${detail}`);
    assert.ok(close(p.score, exp[i].score), `rank ${i} score differs: ${detail}`);
    if (i > 0) {
      const prev = points[i - 1].score;
      assert.ok(LARGER_IS_BETTER[distance] ? prev >= p.score : prev <= p.score,
        `not ordered by ${distance}: ${detail}`);
    }
  }
  const got = new Set(points.map((p) => String(p.id)));
  const want = new Set(exp.map((e) => String(e.id)));
  const bounds = exp.length ? [exp[0].score, exp[exp.length - 1].score] : [];
  for (const e of expectedAll) {
    const s = String(e.id);
    if (got.has(s) !== want.has(s)) {
      assert.ok(bounds.some((b) => close(e.score, b)), `id ${e.id} differs and is not a tie: ${detail}`);
    }
  }
}

function assertVectorEqual(distance, got, sent, what) {
  assert.ok(Array.isArray(got), `${what}: vector missing: ${JSON.stringify(got)}`);
  assert.equal(got.length, sent.length, `${what}: vector length`);
  if (distance === 'Cosine') {
    const n = norm(sent);
    for (let j = 0; j < sent.length; j++) {
      assert.ok(Math.abs(got[j] - sent[j] / n) <= 1e-6 + 1e-5 * Math.abs(sent[j] / n),
        `${what}: Cosine vector[${j}] ${got[j]} is not the normalized input ${sent[j] / n}`);
    }
  } else {
    // The server (like Qdrant) prints the shortest decimal of each float32;
    // read back as float32 it must be the value sent, bit for bit.
    assert.deepEqual(got.map(Math.fround), sent, `${what}: vector not returned bit-exactly as float32`);
  }
}

// An HTTP error from the client: status and Qdrant's error body.
async function expectHttpError(promise, status, what) {
  let err = null;
  try {
    const res = await promise;
    assert.fail(`${what}: expected HTTP ${status}, got a result: ${JSON.stringify(res).slice(0, 300)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.equal(err.status, status, `${what}: expected HTTP ${status}, got ${err.status} (${err.message})`);
  assert.equal(typeof err.data?.status?.error, 'string',
    `${what}: error body is not {"status": {"error": str}}: ${JSON.stringify(err.data)}`);
  assert.equal(typeof err.data?.time, 'number', `${what}: error body has no time: ${JSON.stringify(err.data)}`);
  return err;
}

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------

let server;
let client;
const ds = makeDataset(N, 20240611);

before(async () => {
  server = await new Server().start();
  client = new QdrantClient({ url: server.url, checkCompatibility: false, timeout: 60_000 });
});

// Remember failures so the server log can be shown before the temp dir goes.
let failed = false;
function test(name, fn) {
  return nodeTest(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

after(async () => {
  if (!server) return;
  if (failed) console.error(server.logTail());
  await server.close();
});

const MAIN = 'js_main';

describe('service', () => {
  test('version info and the client compatibility check', async () => {
    const res = await fetch(`${server.url}/`);
    const body = await res.json();
    const info = await client.versionInfo();
    assert.equal(info.version, body.version);
    assert.equal(typeof info.title, 'string');
    assert.match(info.version, /^1\.\d+\.\d+/);
    // The client's own check (runs on construction with checkCompatibility=true).
    const warnings = [];
    const orig = console.warn;
    console.warn = (...a) => warnings.push(a.join(' '));
    try {
      const checking = new QdrantClient({ url: server.url });
      await checking.versionInfo();
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      console.warn = orig;
    }
    assert.deepEqual(warnings, [], `client warned: ${warnings.join('\n')}`);
  });
});

describe('collection flow (Cosine, points + batch upsert)', () => {
  test('create collection', async () => {
    assert.deepEqual(await client.collectionExists(MAIN), { exists: false });
    assert.equal(await client.createCollection(MAIN, { vectors: { size: DIM, distance: 'Cosine' } }), true);
    assert.deepEqual(await client.collectionExists(MAIN), { exists: true });
    const { collections } = await client.getCollections();
    assert.ok(collections.some((c) => c.name === MAIN), JSON.stringify(collections));
  });

  test('upsert: points form and batch form', async () => {
    const half = N / 2;
    for (let lo = 0; lo < half; lo += 250) {
      const res = await client.upsert(MAIN, {
        wait: true,
        points: ds.ids.slice(lo, lo + 250).map((id, j) => ({
          id, vector: ds.vectors[lo + j], payload: ds.payloads[lo + j],
        })),
      });
      assert.equal(res.status, 'completed', JSON.stringify(res));
    }
    for (let lo = half; lo < N; lo += 250) {
      const res = await client.upsert(MAIN, {
        wait: true,
        batch: {
          ids: ds.ids.slice(lo, lo + 250),
          vectors: ds.vectors.slice(lo, lo + 250),
          payloads: ds.payloads.slice(lo, lo + 250),
        },
      });
      assert.equal(res.status, 'completed', JSON.stringify(res));
    }
    assert.deepEqual(await client.count(MAIN, { exact: true }), { count: N });
  });

  test('collection info', async () => {
    const info = await client.getCollection(MAIN);
    assert.equal(info.status, 'green');
    assert.equal(info.points_count, N);
    assert.deepEqual(info.config.params.vectors, { size: DIM, distance: 'Cosine' });
    assert.equal(typeof info.segments_count, 'number');
  });

  test('retrieve: payloads and vectors as sent, missing ids skipped', async () => {
    const pick = [0, 1, 2, 10, 499, 500, 501, 990, 999];
    const ids = pick.map((i) => ds.ids[i]).concat([987654321]);
    const recs = await client.retrieve(MAIN, { ids, with_payload: true, with_vector: true });
    assert.equal(recs.length, pick.length, JSON.stringify(recs.map((r) => r.id)));
    const byId = new Map(recs.map((r) => [r.id, r]));
    for (const i of pick) {
      const r = byId.get(ds.ids[i]);
      assert.ok(r, `id ${ds.ids[i]} missing`);
      assert.deepEqual(r.payload, ds.payloads[i], `payload of ${ds.ids[i]}`);
      assertVectorEqual('Cosine', r.vector, ds.vectors[i], `vector of ${ds.ids[i]}`);
    }
    const bare = await client.retrieve(MAIN, { ids: [ds.ids[1]], with_payload: false, with_vector: false });
    assert.equal(bare.length, 1);
    assert.ok(bare[0].payload == null || Object.keys(bare[0].payload).length === 0, JSON.stringify(bare[0]));
    assert.ok(bare[0].vector == null, JSON.stringify(bare[0]));
    const some = await client.retrieve(MAIN, { ids: [ds.ids[3]], with_payload: ['city', 'nested'] });
    assert.deepEqual(some[0].payload, { city: ds.payloads[3].city, nested: ds.payloads[3].nested });
  });

  test('scroll: pagination covers every point exactly once, in id order', async () => {
    const seen = [];
    let offset;
    let pages = 0;
    for (;;) {
      const res = await client.scroll(MAIN, { limit: PAGE, offset, with_payload: true });
      pages++;
      assert.ok(res.points.length <= PAGE);
      for (const p of res.points) {
        seen.push(p.id);
        assert.deepEqual(p.payload, ds.payloads[ds.indexOf.get(p.id)], `payload of ${p.id}`);
      }
      if (res.next_page_offset == null) break;
      assert.equal(res.points.length, PAGE, `short page before the end (offset ${offset})`);
      offset = res.next_page_offset;
      assert.ok(pages < 100, 'scroll does not terminate');
    }
    assert.equal(pages, Math.ceil(N / PAGE));
    assert.equal(seen.length, N, 'number of scrolled points');
    assert.equal(new Set(seen.map(String)).size, N, 'a point was returned twice');
    for (const id of ds.ids) assert.ok(ds.indexOf.has(id));
    assert.deepEqual(new Set(seen.map(String)), new Set(ds.ids.map(String)));
    for (let i = 1; i < seen.length; i++) {
      assert.ok(idLess(seen[i - 1], seen[i]), `scroll order: ${seen[i - 1]} before ${seen[i]}`);
    }
  });

  test('scroll with a filter', async () => {
    const filter = { must: [{ key: 'city', match: { value: 'Paris' } }] };
    const res = await client.scroll(MAIN, { limit: N, filter, with_payload: false });
    const want = ds.ids.filter((_, i) => ds.payloads[i].city === 'Paris').map(String).sort();
    assert.deepEqual(res.points.map((p) => String(p.id)).sort(), want);
    assert.equal(res.next_page_offset ?? null, null);
  });

  const FILTERS = [
    ['match value', { must: [{ key: 'group', match: { value: 2 } }] }, (p) => p.group === 2],
    ['match any', { must: [{ key: 'city', match: { any: ['Berlin', 'Lima'] } }] },
      (p) => p.city === 'Berlin' || p.city === 'Lima'],
    ['range', { must: [{ key: 'price', range: { gte: 250, lt: 600 } }] },
      (p) => p.price >= 250 && p.price < 600],
    ['must_not + should', {
      should: [{ key: 'even', match: { value: true } }, { key: 'group', match: { value: 1 } }],
      must_not: [{ key: 'tags', match: { value: 't0' } }],
    }, (p) => (p.even || p.group === 1) && !p.tags.includes('t0')],
    ['nested key', { must: [{ key: 'nested.level.value', range: { lt: 100 } }] },
      (p) => p.nested.level.value < 100],
    ['has_id', { must: [{ has_id: [ds.ids[0], ds.ids[1], ds.ids[2], 123456789] }] },
      (_, id) => [ds.ids[0], ds.ids[1], ds.ids[2]].includes(id)],
  ];

  for (const [name, filter, pred] of FILTERS) {
    test(`count with filter: ${name}`, async () => {
      const want = ds.payloads.filter((p, i) => pred(p, ds.ids[i])).length;
      assert.ok(want > 0 && want < N, `degenerate filter ${name}: ${want}`);
      assert.deepEqual(await client.count(MAIN, { filter, exact: true }), { count: want });
    });
  }

  test('query: top-k, offset, filter, score_threshold, by point id vs brute force', async () => {
    for (const [qi, q] of ds.queries.entries()) {
      const all = bruteForce('Cosine', ds, q);
      let res = await client.query(MAIN, { query: q, limit: K });
      assertTopK(res.points, 'Cosine', ds, all, { k: K, what: `query ${qi}` });
      res = await client.query(MAIN, { query: { nearest: q }, limit: 5, offset: 7 });
      assertTopK(res.points, 'Cosine', ds, all, { k: 5, offset: 7, what: `nearest+offset ${qi}` });

      const pred = (p) => p.group === qi;
      const filtered = bruteForce('Cosine', ds, q, { filter: pred });
      res = await client.query(MAIN, {
        query: q, limit: K, with_payload: true,
        filter: { must: [{ key: 'group', match: { value: qi } }] },
      });
      assertTopK(res.points, 'Cosine', ds, filtered, { k: K, what: `filtered query ${qi}` });
      for (const p of res.points) assert.deepEqual(p.payload, ds.payloads[ds.indexOf.get(p.id)]);

      const threshold = all[25].score;
      const above = all.filter((e) => e.score >= threshold);
      res = await client.query(MAIN, { query: q, limit: 100, score_threshold: threshold });
      assert.ok(res.points.every((p) => p.score >= threshold - SCORE_ABS), 'score_threshold violated');
      assert.ok(Math.abs(res.points.length - above.length) <= 1,
        `score_threshold ${threshold}: ${res.points.length} points, brute force ${above.length}`);
    }
    // query by point id: that point's vector, the point itself excluded
    const i = 42;
    const all = bruteForce('Cosine', ds, ds.vectors[i], { exclude: ds.ids[i] });
    const res = await client.query(MAIN, { query: ds.ids[i], limit: K });
    assertTopK(res.points, 'Cosine', ds, all, { k: K, what: `query by id ${ds.ids[i]}` });
  });

  test('set_payload and delete_payload', async () => {
    const ids = [ds.ids[5], ds.ids[10], ds.ids[11]];
    let res = await client.setPayload(MAIN, { payload: { color: 'red', rank: 1 }, points: ids, wait: true });
    assert.equal(res.status, 'completed');
    // by filter, into a nested key
    res = await client.setPayload(MAIN, {
      payload: { flag: true }, key: 'nested', wait: true,
      filter: { must: [{ has_id: [ds.ids[5]] }] },
    });
    assert.equal(res.status, 'completed');
    let recs = await client.retrieve(MAIN, { ids, with_payload: true });
    for (const r of recs) {
      const i = ds.indexOf.get(r.id);
      const want = { ...ds.payloads[i], color: 'red', rank: 1 };
      if (r.id === ds.ids[5]) want.nested = { ...ds.payloads[i].nested, flag: true };
      assert.deepEqual(r.payload, want, `payload of ${r.id} after set_payload`);
    }
    assert.deepEqual(await client.count(MAIN, { filter: { must: [{ key: 'color', match: { value: 'red' } }] } }),
      { count: 3 });

    res = await client.deletePayload(MAIN, { keys: ['color', 'tags'], points: [ds.ids[10], ds.ids[11]], wait: true });
    assert.equal(res.status, 'completed');
    recs = await client.retrieve(MAIN, { ids: [ds.ids[10], ds.ids[11]], with_payload: true });
    for (const r of recs) {
      const { tags, ...rest } = ds.payloads[ds.indexOf.get(r.id)];
      assert.deepEqual(r.payload, { ...rest, rank: 1 }, `payload of ${r.id} after delete_payload`);
    }
    assert.deepEqual(await client.count(MAIN, { filter: { must: [{ key: 'color', match: { value: 'red' } }] } }),
      { count: 1 });
  });

  test('delete by filter', async () => {
    const res = await client.delete(MAIN, { wait: true, filter: { must: [{ key: 'group', match: { value: 3 } }] } });
    assert.equal(res.status, 'completed');
    const gone = ds.ids.filter((_, i) => ds.payloads[i].group === 3);
    assert.deepEqual(await client.count(MAIN, { exact: true }), { count: N - gone.length });
    assert.deepEqual(await client.count(MAIN, { filter: { must: [{ key: 'group', match: { value: 3 } }] } }),
      { count: 0 });
    const recs = await client.retrieve(MAIN, { ids: gone.slice(0, 20) });
    assert.deepEqual(recs, []);
    // searches no longer return deleted points
    const q = ds.queries[0];
    const all = bruteForce('Cosine', ds, q, { filter: (p) => p.group !== 3 });
    const out = await client.query(MAIN, { query: q, limit: K });
    assertTopK(out.points, 'Cosine', ds, all, { k: K, what: 'query after delete' });
    // delete by ids too
    await client.delete(MAIN, { wait: true, points: [ds.ids[1], ds.ids[2]] });
    assert.deepEqual(await client.count(MAIN, { exact: true }), { count: N - gone.length - 2 });
    const info = await client.getCollection(MAIN);
    assert.equal(info.points_count, N - gone.length - 2);
  });

  test('errors: 404 and 400', async () => {
    await expectHttpError(client.getCollection('no_such_collection_js'), 404, 'get missing collection');
    await expectHttpError(client.query('no_such_collection_js', { query: ds.queries[0] }), 404,
      'query missing collection');
    await expectHttpError(client.upsert(MAIN, { wait: true, points: [{ id: 1, vector: [1, 2, 3] }] }),
      400, 'upsert with wrong dimension');
    await expectHttpError(client.query(MAIN, { query: [1, 2] }), 400, 'query with wrong dimension');
    const e = await expectHttpError(
      client.createCollection('js_sparse_f16', {
        sparse_vectors: { s: { index: { datatype: 'float16' } } },
      }),
      400, 'float16 sparse vectors (unsupported)');
    assert.match(e.data.status.error, /not supported/);
    // Sparse vectors: s·{2: 1, 3: 0.5} → point 1 ({1: 1, 2: 2}) 2; point 2 ({2: 1, 3: 4}) 3.
    assert.equal(await client.createCollection('js_sparse', { sparse_vectors: { s: {} } }), true);
    await client.upsert('js_sparse', {
      wait: true,
      points: [
        { id: 1, vector: { s: { indices: [2, 1], values: [2, 1] } } },
        { id: 2, vector: { s: { indices: [2, 3], values: [1, 4] } } },
      ],
    });
    const sparse = await client.query('js_sparse', {
      query: { indices: [3, 2], values: [0.5, 1] }, using: 's', with_vector: true,
    });
    assert.deepEqual(sparse.points.map((p) => [p.id, p.score]), [[2, 3], [1, 2]]);
    assert.deepEqual(sparse.points[1].vector, { s: { indices: [1, 2], values: [1, 2] } });
    assert.equal(await client.deleteCollection('js_sparse'), true);
    await expectHttpError(client.createCollection(MAIN, { vectors: { size: DIM, distance: 'Cosine' } }), 409,
      'create existing collection');
    assert.deepEqual(await client.count(MAIN, { exact: true }).then((c) => c.count > 0), true);
  });

  test('delete collection', async () => {
    assert.equal(await client.deleteCollection(MAIN), true);
    assert.deepEqual(await client.collectionExists(MAIN), { exists: false });
    const { collections } = await client.getCollections();
    assert.ok(!collections.some((c) => c.name === MAIN));
    await expectHttpError(client.getCollection(MAIN), 404, 'get deleted collection');
  });
});

describe('query vs brute force for every distance', () => {
  for (const distance of ['Cosine', 'Dot', 'Euclid', 'Manhattan']) {
    test(distance, async () => {
      const name = `js_${distance.toLowerCase()}`;
      const d = makeDataset(N_DIST, 7 + distance.length);
      assert.equal(await client.createCollection(name, { vectors: { size: DIM, distance } }), true);
      await client.upsert(name, {
        wait: true,
        batch: { ids: d.ids, vectors: d.vectors, payloads: d.payloads },
      });
      for (const [qi, q] of d.queries.entries()) {
        const all = bruteForce(distance, d, q);
        const res = await client.query(name, { query: q, limit: K, with_vector: true });
        assertTopK(res.points, distance, d, all, { k: K, what: `${distance} query ${qi}` });
        for (const p of res.points) {
          assertVectorEqual(distance, p.vector, d.vectors[d.indexOf.get(p.id)], `${distance} vector of ${p.id}`);
        }
      }
      assert.equal(await client.deleteCollection(name), true);
    });
  }

  test('named vectors: query with `using`', async () => {
    const name = 'js_named';
    const d = makeDataset(200, 99);
    await client.createCollection(name, {
      vectors: { a: { size: DIM, distance: 'Dot' }, b: { size: 4, distance: 'Euclid' } },
    });
    const small = d.vectors.map((v) => v.slice(0, 4));
    await client.upsert(name, {
      wait: true,
      points: d.ids.map((id, i) => ({ id, vector: { a: d.vectors[i], b: small[i] }, payload: d.payloads[i] })),
    });
    let res = await client.query(name, { query: d.queries[0], using: 'a', limit: K });
    assertTopK(res.points, 'Dot', d, bruteForce('Dot', d, d.queries[0]), { k: K, what: 'using a' });
    const qb = d.queries[1].slice(0, 4);
    res = await client.query(name, { query: qb, using: 'b', limit: K, with_vector: ['b'] });
    const dB = { ...d, vectors: small };
    assertTopK(res.points, 'Euclid', dB, bruteForce('Euclid', dB, qb), { k: K, what: 'using b' });
    for (const p of res.points) {
      assert.deepEqual(Object.keys(p.vector), ['b'], `with_vector ['b'] returned ${Object.keys(p.vector)}`);
      assertVectorEqual('Euclid', p.vector.b, small[d.indexOf.get(p.id)], `vector b of ${p.id}`);
    }
    assert.equal(await client.deleteCollection(name), true);
  });
});
