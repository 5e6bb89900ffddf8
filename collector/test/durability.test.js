// @ts-check
'use strict'

const t = require('tap')
const fs = require('node:fs')
const path = require('node:path')
const Database = require('better-sqlite3')
const { collector, tempDir } = require('./helpers/collector.js')
const { spawnCollector, stop } = require('./helpers/process.js')
const o = require('./helpers/otlp.js')

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('when the spool is full the intake answers 503 with Retry-After, and accepts again once the store catches up', async (t) => {
  const c = await collector(t, { spoolMaxBytes: 64 * 1024, drain: false })
  const acked = []
  let refused
  for (let i = 0; i < 200 && !refused; i++) {
    const spans = o.transaction({ children: [{ name: 'SELECT users', offsetMs: 1, durationMs: 2 }] })
    const r = await o.post(c.url, '/v1/traces', o.traces(spans))
    if (r.status === 200) acked.push(spans[0].spanId)
    else refused = r
  }
  t.ok(refused, 'eventually refused')
  t.equal(refused?.status, 503)
  t.equal(refused?.headers['retry-after'], '5')
  t.match(refused?.body.error, /spool is full/)
  t.ok(acked.length > 10, `${acked.length} batches acknowledged before the spool filled`)
  c.resumeDrain()
  await c.drained()
  const db = new Database(path.join(c.dataDir, 'apm.sqlite'), { readonly: true })
  t.teardown(() => db.close())
  const stored = new Set(db.prepare('SELECT span_id FROM spans WHERE tx_type IS NOT NULL').all().map((r) => /** @type {any} */ (r).span_id))
  t.equal(acked.filter((id) => stored.has(id)).length, acked.length, 'every acknowledged batch is stored')
  t.equal((await o.post(c.url, '/v1/traces', o.traces(o.transaction()))).status, 200, 'accepting again')
  const spoolFiles = fs.readdirSync(path.join(c.dataDir, 'spool'))
  t.ok(spoolFiles.length <= 3, `drained segments are deleted (${spoolFiles.length} left)`)
})

t.test('a batch sent twice (a retry after a lost answer) is stored once', async (t) => {
  const c = await collector(t)
  const spans = o.transaction({ children: [{ name: 'SELECT users', offsetMs: 1, durationMs: 2 }] })
  const err = o.errorRecord({ traceId: spans[0].traceId })
  for (let i = 0; i < 2; i++) {
    t.equal((await o.post(c.url, '/v1/traces', o.traces(spans))).status, 200)
    t.equal((await o.post(c.url, '/v1/logs', o.logs([err]))).status, 200)
  }
  await c.drained()
  t.match(c.status().stored, { spans: 2, errors: 1 })
})

t.test('the intake keeps accepting while the store is locked by another writer, and stores everything afterwards', async (t) => {
  const c = await collector(t)
  const db = new Database(path.join(c.dataDir, 'apm.sqlite'))
  db.pragma('busy_timeout = 0')
  db.exec('BEGIN EXCLUSIVE')
  const ids = []
  for (let i = 0; i < 5; i++) {
    const spans = o.transaction()
    t.equal((await o.post(c.url, '/v1/traces', o.traces(spans))).status, 200)
    ids.push(spans[0].spanId)
  }
  await sleep(300)
  t.ok(c.status().pendingBytes > 0, 'data waits in the spool')
  db.exec('ROLLBACK')
  db.close()
  await c.drained(20000)
  t.equal(c.status().stored.spans, 5)
})

t.test('a torn record at the end of a segment (a crash mid-write) is skipped and later data is still stored', async (t) => {
  const dataDir = tempDir()
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const first = await collector(t, { dataDir, drain: false })
  const a = o.transaction()
  t.equal((await o.post(first.url, '/v1/traces', o.traces(a))).status, 200)
  await first.close()
  const spoolDir = path.join(dataDir, 'spool')
  const seg = fs.readdirSync(spoolDir).sort().at(-1)
  fs.appendFileSync(path.join(spoolDir, /** @type {string} */ (seg)), Buffer.from([0xa7, 1, 0, 0, 1, 0, 1, 2, 3, 4, 0x7b]))
  const second = await collector(t, { dataDir })
  const b = o.transaction()
  t.equal((await o.post(second.url, '/v1/traces', o.traces(b))).status, 200)
  await second.drained()
  t.equal(second.queries.trace(a[0].traceId).spans.length, 1, 'the record before the tear')
  t.equal(second.queries.trace(b[0].traceId).spans.length, 1, 'a record in the next segment')
})

t.test('after kill -9 and a restart, every acknowledged batch is in the store exactly once', async (t) => {
  const dataDir = tempDir()
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const args = ['--port', '0', '--data', dataDir, '--rate-limit', '100000']
  const first = await spawnCollector(args)
  t.teardown(() => stop(first.child, 'SIGKILL'))
  /** @type {string[]} */
  const acked = []
  let sent = 0
  const run = { killed: false }
  const sender = async () => {
    while (!run.killed) {
      const spans = o.transaction({ children: [{ name: 'SELECT users', offsetMs: 1, durationMs: 2 }, { name: 'SELECT orders', offsetMs: 4, durationMs: 3 }] })
      sent++
      try {
        const r = await o.post(first.url, '/v1/traces', o.traces(spans), { gzip: true })
        if (r.status === 200) acked.push(spans[0].spanId, spans[1].spanId, spans[2].spanId)
      } catch {} // connection refused/reset once killed: not acknowledged
    }
  }
  const senders = [sender(), sender(), sender(), sender()]
  await sleep(1500)
  first.child.kill('SIGKILL')
  run.killed = true
  await Promise.all(senders)
  t.ok(acked.length > 30, `${acked.length / 3} batches acknowledged of ${sent} sent before kill -9`)

  const second = await spawnCollector(args)
  t.teardown(() => stop(second.child))
  let pending = -1
  for (let i = 0; i < 100 && pending !== 0; i++) {
    pending = (await o.get(`${second.url}/api/status`)).body.pendingBytes
    if (pending) await sleep(100)
  }
  t.equal(pending, 0, 'spool drained after restart')
  await stop(second.child)
  const db = new Database(path.join(dataDir, 'apm.sqlite'), { readonly: true })
  t.teardown(() => db.close())
  const rows = db.prepare('SELECT span_id FROM spans').all().map((r) => /** @type {any} */ (r).span_id)
  const stored = new Set(rows)
  t.equal(rows.length, stored.size, 'no span stored twice')
  const missing = acked.filter((id) => !stored.has(id))
  t.same(missing, [], 'every acknowledged span is stored')
  t.ok(rows.length <= sent * 3, 'nothing invented')
})

t.test('when the disk is full the intake answers 503 with Retry-After, keeps what it acknowledged, and recovers when space returns', async (t) => {
  const mnt = tempDir('apm-full-disk-')
  const { spawnSync } = require('node:child_process')
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mnt]).status === 0
  if (!mounted) {
    fs.rmSync(mnt, { recursive: true, force: true })
    t.pass('skipped: needs root to mount a small tmpfs')
    return
  }
  t.teardown(() => {
    spawnSync('umount', ['-l', mnt])
    fs.rmSync(mnt, { recursive: true, force: true })
  })
  const ballast = path.join(mnt, 'ballast')
  fs.writeFileSync(ballast, Buffer.alloc(9 * 1024 * 1024, 1))
  const c = await collector(t, { dataDir: path.join(mnt, 'data'), drain: false, rateLimitPerSecond: 0 })
  /** @type {string[]} */
  const acked = []
  let refused
  for (let i = 0; i < 2000 && !refused; i++) {
    const spans = []
    const ids = []
    for (let j = 0; j < 20; j++) {
      const tx = o.transaction({ children: [{ name: 'SELECT users', offsetMs: 1, durationMs: 2 }] })
      ids.push(tx[0].spanId)
      spans.push(...tx)
    }
    const r = await o.post(c.url, '/v1/traces', o.traces(spans))
    if (r.status === 200) acked.push(...ids)
    else refused = r
  }
  t.equal(refused?.status, 503)
  t.equal(refused?.headers['retry-after'], '30')
  t.match(refused?.body.error, /disk is full/)
  t.ok(acked.length > 50, `${acked.length} transactions acknowledged before the disk filled`)
  fs.rmSync(ballast)
  c.resumeDrain()
  await c.drained(20000).catch((err) => { throw new Error(`${err.message}; store: ${c.status().lastStoreError}`) })
  const db = new Database(path.join(c.dataDir, 'apm.sqlite'), { readonly: true })
  t.teardown(() => db.close())
  const stored = new Set(db.prepare('SELECT span_id FROM spans WHERE tx_type IS NOT NULL').all().map((r) => /** @type {any} */ (r).span_id))
  t.equal(acked.filter((id) => stored.has(id)).length, acked.length, 'every acknowledged batch is stored')
  t.equal((await o.post(c.url, '/v1/traces', o.traces(o.transaction()))).status, 200, 'accepting again')
  t.equal(c.stats.internalErrors, 0)
})

t.test('a spool record that can never be stored is set aside in dead-letter/ and does not block the records after it', async (t) => {
  const { encodeRecord } = require('../lib/spool.js')
  const dataDir = tempDir()
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const first = await collector(t, { dataDir, drain: false })
  const before = o.transaction()
  t.equal((await o.post(first.url, '/v1/traces', o.traces(before))).status, 200)
  await first.close()
  // A record with a valid frame and checksum whose content is not a batch (as a bug might write).
  const spoolDir = path.join(dataDir, 'spool')
  const seg = /** @type {string} */ (fs.readdirSync(spoolDir).sort().at(-1))
  fs.appendFileSync(path.join(spoolDir, seg), encodeRecord('spans', Buffer.from('{"not":"a batch"}')))
  const second = await collector(t, { dataDir })
  const after = o.transaction()
  t.equal((await o.post(second.url, '/v1/traces', o.traces(after))).status, 200)
  await second.drained()
  t.equal(second.queries.trace(before[0].traceId).spans.length, 1, 'the record before it')
  t.equal(second.queries.trace(after[0].traceId).spans.length, 1, 'the record after it')
  const dead = fs.readdirSync(path.join(dataDir, 'dead-letter'))
  t.equal(dead.length, 1)
  t.equal(fs.readFileSync(path.join(dataDir, 'dead-letter', dead[0]), 'utf8'), '{"not":"a batch"}')
  t.match(second.status().lastStoreError, /could not be stored and was moved to .*dead-letter/)
})
