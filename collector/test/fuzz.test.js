// @ts-check
'use strict'

const t = require('tap')
const { collector } = require('./helpers/collector.js')
const o = require('./helpers/otlp.js')

/** A small deterministic PRNG (mulberry32) so a failure can be replayed. */
/** @param {number} seed */
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const WEIRD = [null, 0, -1, 1.5, 1e300, '', 'x', 'NaN', '-1', '18446744073709551616', true, [], {}, [[[]]], { stringValue: 1 }, { intValue: 'z' }, '0'.repeat(32), 'é\u0000', { arrayValue: { values: [{ kvlistValue: { values: 5 } }] } }]

/** @param {any} node @param {() => number} rnd @param {[any, string][]} [out] @returns {[any, string][]} every (container, key) pair */
function slots (node, rnd, out = /** @type {[any, string][]} */ ([])) {
  if (node && typeof node === 'object') {
    for (const k of Object.keys(node)) {
      out.push([node, k])
      slots(node[k], rnd, out)
    }
  }
  return out
}

t.test('randomly corrupted payloads get 200 (with partial success) or 400, never a 500 or a crash', async (t) => {
  const c = await collector(t, { rateLimitPerSecond: 0 })
  const rnd = prng(Number(process.env.FUZZ_SEED ?? 20261125))
  const statuses = new Map()
  for (let i = 0; i < 400; i++) {
    const isLogs = rnd() < 0.4
    const body = isLogs
      ? o.logs([o.errorRecord(), o.errorRecord()])
      : o.traces([...o.transaction({ children: [{ name: 'SELECT 1', offsetMs: 1, durationMs: 1 }] }), ...o.transaction()])
    const all = slots(body, rnd)
    for (let m = 0; m < 1 + Math.floor(rnd() * 3); m++) {
      const [node, key] = all[Math.floor(rnd() * all.length)]
      const r = rnd()
      if (r < 0.7) node[key] = structuredClone(WEIRD[Math.floor(rnd() * WEIRD.length)])
      else if (r < 0.85) delete node[key]
      else node[`${key}_`] = node[key]
    }
    let raw = Buffer.from(JSON.stringify(body))
    if (rnd() < 0.1) raw = raw.subarray(0, Math.floor(rnd() * raw.length)) // truncated
    else if (rnd() < 0.05) raw[Math.floor(rnd() * raw.length)] = Math.floor(rnd() * 256) // a flipped byte
    const res = await o.post(c.url, isLogs ? '/v1/logs' : '/v1/traces', null, { raw, gzip: rnd() < 0.3 })
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    if (res.status !== 200 && res.status !== 400) t.fail(`case ${i}: ${res.status} ${res.text}`)
    if (res.status === 400) t.ok(res.body?.error, `case ${i}: 400 names the problem`)
  }
  t.equal(c.stats.internalErrors, 0, 'no internal errors')
  t.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(400) ?? 0) > 0, `statuses: ${JSON.stringify([...statuses])}`)
  await c.drained()
  t.equal(c.status().lastStoreError, '', 'whatever was accepted could be stored')
})
