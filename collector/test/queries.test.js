// @ts-check
'use strict'

const t = require('tap')
const path = require('node:path')
const Database = require('better-sqlite3')
const { collector } = require('./helpers/collector.js')
const { applyRetention } = require('../lib/store/ingest.js')
const { isAppFrame } = require('../lib/store/queries.js')
const o = require('./helpers/otlp.js')

const HOUR_US = 3600e6

t.test('transactions per name report throughput, average, p50/p95/p99 and error rate', async (t) => {
  const c = await collector(t)
  const now = Date.now()
  const spans = []
  // 100 requests of 1..100 ms; the 5 slowest failed with 500.
  for (let i = 1; i <= 100; i++) spans.push(...o.transaction({ durationMs: i, status: i > 95 ? 500 : 200, startMs: now - 60_000 + i * 100 }))
  spans.push(...o.transaction({ name: 'nightly-report', type: 'job', durationMs: 900, startMs: now - 30_000 }))
  t.equal((await o.post(c.url, '/v1/traces', o.traces(spans))).status, 200)
  await c.drained()
  const nowUs = Date.now() * 1000
  const rows = c.queries.transactions('shop', nowUs - HOUR_US, nowUs)
  const users = rows.find((r) => r.name === 'GET /users/:id')
  t.match(users, { type: 'request', count: 100, avgUs: 50500, p50Us: 50000, p95Us: 95000, p99Us: 99000, maxUs: 100000, errorRate: 0.05 })
  t.equal(users?.throughputPerMin.toFixed(3), (100 / 60).toFixed(3))
  t.match(rows.find((r) => r.name === 'nightly-report'), { type: 'job', count: 1 })
  t.same(c.queries.transactions('shop', nowUs - HOUR_US, nowUs, 'job').map((r) => r.name), ['nightly-report'])
  t.same(c.queries.transactionTypes('shop'), ['job', 'request'])
})

t.test('spans from other OTLP exporters: root, SERVER and CONSUMER spans are transactions; CLIENT children are not', async (t) => {
  const c = await collector(t)
  const [server] = o.transaction()
  server.attributes = server.attributes.filter((a) => a.key !== 'apm.transaction.type')
  const consumer = { ...server, spanId: o.hex(8), traceId: o.hex(16), parentSpanId: o.hex(8), kind: 5, name: 'orders process' }
  const root = { ...server, spanId: o.hex(8), traceId: o.hex(16), kind: 1, name: 'cron tick' }
  const client = { ...server, spanId: o.hex(8), parentSpanId: server.spanId, kind: 3, name: 'GET api.example.com' }
  t.equal((await o.post(c.url, '/v1/traces', o.traces([server, consumer, root, client]))).status, 200)
  await c.drained()
  const nowUs = Date.now() * 1000
  const byName = Object.fromEntries(c.queries.transactions('shop', nowUs - HOUR_US, nowUs).map((r) => [r.name, r.type]))
  t.same(byName, { 'GET /users/:id': 'request', 'orders process': 'messaging', 'cron tick': 'custom' })
})

t.test('the per-minute series has average, p95 and throughput per bucket', async (t) => {
  const c = await collector(t)
  const minute = Math.floor(Date.now() / 60000) * 60000
  const spans = []
  for (let i = 0; i < 20; i++) spans.push(...o.transaction({ durationMs: 10 + i, startMs: minute - 120_000 + 1000 + i }))
  for (let i = 0; i < 5; i++) spans.push(...o.transaction({ durationMs: 100, startMs: minute - 60_000 + 1000 + i }))
  await o.post(c.url, '/v1/traces', o.traces(spans))
  await c.drained()
  const nowUs = minute * 1000 + 1000
  const s = c.queries.series('shop', nowUs - 60 * 60e6, nowUs)
  t.equal(s.bucketUs, 60e6)
  const two = s.points.find((p) => p.tUs === (minute - 120_000) * 1000)
  const one = s.points.find((p) => p.tUs === (minute - 60_000) * 1000)
  t.match(two, { count: 20, throughputPerMin: 20, avgUs: 19500, p95Us: 28000 })
  t.match(one, { count: 5, avgUs: 100000, p95Us: 100000 })
  t.equal(s.points.reduce((n, p) => n + p.count, 0), 25)
  const short = c.queries.series('shop', nowUs - 15 * 60e6, nowUs)
  t.equal(short.bucketUs, 15e6, '15-second points in the 15-minute view')
  t.match(short.points.find((p) => p.tUs === (minute - 120_000) * 1000), { count: 20, throughputPerMin: 80 })
  t.equal(short.points.reduce((n, p) => n + p.count, 0), 25)
})

t.test('a trace waterfall lists all spans in tree order with their depth', async (t) => {
  const c = await collector(t)
  const start = Date.now() - 1000
  const [tx, db1, db2] = o.transaction({ durationMs: 50, startMs: start, children: [{ name: 'SELECT b', offsetMs: 20, durationMs: 5 }, { name: 'SELECT a', offsetMs: 5, durationMs: 10 }] })
  const nested = { ...db1, spanId: o.hex(8), parentSpanId: db1.spanId, name: 'pool.connect', startTimeUnixNano: db1.startTimeUnixNano }
  // a span of another service in the same trace (a downstream call)
  await o.post(c.url, '/v1/traces', o.traces([nested, db1, db2, tx]))
  await o.post(c.url, '/v1/traces', o.traces([{ ...o.transaction({ startMs: start + 30, durationMs: 5 })[0], traceId: tx.traceId, parentSpanId: db1.spanId, name: 'GET /inner' }], { service: 'inner' }))
  await c.drained()
  const trace = c.queries.trace(tx.traceId)
  t.same(trace.spans.map((s) => [s.name, s.depth, s.service]), [
    ['GET /users/:id', 0, 'shop'],
    ['SELECT a', 1, 'shop'],
    ['SELECT b', 1, 'shop'],
    ['pool.connect', 2, 'shop'],
    ['GET /inner', 2, 'inner']
  ])
  t.equal(trace.durationUs, 50000)
  t.equal(trace.spans[1].attributes['db.system.name'], 'postgresql')
})

t.test('error groups count occurrences by grouping key with first/last seen, first release and the latest occurrence', async (t) => {
  const c = await collector(t)
  const now = Date.now()
  const [tx] = o.transaction({ name: 'POST /orders', route: '/orders', method: 'POST', status: 500 })
  await o.post(c.url, '/v1/traces', o.traces([tx], { version: '1.1.0' }))
  await o.post(c.url, '/v1/logs', o.logs([o.errorRecord({ key: 'k1', timeMs: now - 50_000 }), o.errorRecord({ key: 'k1', timeMs: now - 40_000 })], { version: '1.0.0' }))
  await o.post(c.url, '/v1/logs', o.logs([
    o.errorRecord({ key: 'k1', timeMs: now - 10_000, message: 'latest one', traceId: tx.traceId, spanId: tx.spanId }),
    o.errorRecord({ key: 'k2', type: 'RangeError', message: 'Invalid array length', timeMs: now - 5000, handled: true })
  ], { version: '1.1.0' }))
  await c.drained()
  const nowUs = Date.now() * 1000
  const groups = c.queries.errorGroups('shop', nowUs - HOUR_US, nowUs)
  t.match(groups, [
    { groupingKey: 'k1', count: 3, total: 3, firstRelease: '1.0.0', message: 'latest one', firstSeenUs: (now - 50_000) * 1000, lastSeenUs: (now - 10_000) * 1000 },
    { groupingKey: 'k2', count: 1, firstRelease: '1.1.0', type: 'RangeError', handled: 1 }
  ])
  const g = c.queries.errorGroup('shop', 'k1', nowUs - HOUR_US, nowUs)
  t.match(g, { total: 3, firstRelease: '1.0.0', latest: { message: 'latest one', transactionName: 'POST /orders', traceId: tx.traceId, release: '1.1.0' } })
  t.same(g?.latest.frames.filter((/** @type {any} */ f) => f.app).map((/** @type {any} */ f) => f.line.trim()), ['at loadUser (/srv/app/routes/users.js:14:22)'])
  t.equal(g?.series.points.reduce((/** @type {number} */ n, /** @type {any} */ p) => n + p.count, 0), 3)
  t.equal(c.queries.errorGroup('shop', 'nope', 0, nowUs), null)
})

t.test('releases show when each was first seen and which error groups are new in it', async (t) => {
  const c = await collector(t)
  const now = Date.now()
  await o.post(c.url, '/v1/traces', o.traces(o.transaction({ startMs: now - 100_000 }), { version: '1.0.0' }))
  await o.post(c.url, '/v1/traces', o.traces([...o.transaction({ startMs: now - 20_000 }), ...o.transaction({ startMs: now - 10_000, status: 500 })], { version: '1.1.0' }))
  await o.post(c.url, '/v1/logs', o.logs([o.errorRecord({ key: 'old', timeMs: now - 90_000 })], { version: '1.0.0' }))
  await o.post(c.url, '/v1/logs', o.logs([o.errorRecord({ key: 'old', timeMs: now - 15_000 }), o.errorRecord({ key: 'new', type: 'SyntaxError', timeMs: now - 12_000 })], { version: '1.1.0' }))
  await c.drained()
  const r = c.queries.releases('shop')
  t.match(r, [
    { version: '1.1.0', transactions: 2, errorRate: 0.5, newErrorGroups: [{ groupingKey: 'new', type: 'SyntaxError' }] },
    { version: '1.0.0', transactions: 1, firstSeenUs: (now - 100_000) * 1000, newErrorGroups: [{ groupingKey: 'old' }] }
  ])
  t.equal(r[0].newErrorGroups.length, 1)
})

t.test('retention deletes data older than the configured number of days', async (t) => {
  const c = await collector(t)
  const now = Date.now()
  const old = now - 3 * 86400e3
  await o.post(c.url, '/v1/traces', o.traces([...o.transaction({ startMs: old }), ...o.transaction({ startMs: now - 1000 })], { version: '0.9.0' }))
  await o.post(c.url, '/v1/logs', o.logs([o.errorRecord({ timeMs: old }), o.errorRecord({ timeMs: now - 1000 })]))
  await c.drained()
  const db = new Database(path.join(c.dataDir, 'apm.sqlite'))
  t.teardown(() => db.close())
  t.ok(applyRetention(db, 2, now * 1000) >= 2)
  t.match(c.status().stored, { spans: 1, errors: 1 })
  applyRetention(db, 1 / 86400, now * 1000 + 5e6)
  t.match(c.status().stored, { spans: 0, errors: 0 })
  t.same(c.queries.releases('shop'), [])
})

t.test('application frames are those outside node_modules and node internals', async (t) => {
  t.ok(isAppFrame('    at loadUser (/srv/app/routes/users.js:14:22)'))
  t.ok(isAppFrame('    at /srv/app/index.js:3:1'))
  t.notOk(isAppFrame('    at Layer.handle (/srv/app/node_modules/express/lib/router/layer.js:95:5)'))
  t.notOk(isAppFrame('    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)'))
  t.notOk(isAppFrame('    at node:internal/main/run_main_module:28:49'))
  t.notOk(isAppFrame('TypeError: boom'))
})

t.test('the collector applies --retention-days when it starts', async (t) => {
  const { tempDir } = require('./helpers/collector.js')
  const fs = require('node:fs')
  const dataDir = tempDir()
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const first = await collector(t, { dataDir, retentionDays: 30 })
  const now = Date.now()
  await o.post(first.url, '/v1/traces', o.traces([...o.transaction({ startMs: now - 3 * 86400e3 }), ...o.transaction({ startMs: now - 1000 })]))
  await o.post(first.url, '/v1/logs', o.logs([o.errorRecord({ timeMs: now - 3 * 86400e3 }), o.errorRecord({ timeMs: now - 1000 })]))
  await first.drained()
  t.match(first.status().stored, { spans: 2, errors: 2 })
  await first.close()
  const second = await collector(t, { dataDir, retentionDays: 2 })
  for (let i = 0; i < 50 && second.status().stored.spans !== 1; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  t.match(second.status().stored, { spans: 1, errors: 1 })
})
