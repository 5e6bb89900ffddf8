// @ts-check
// Posts a realistic 20 minutes of data for the service "shop" (two releases, three routes, a slow
// endpoint, failing orders, two error groups) through the real intake, for query and browser tests.
'use strict'

const o = require('./otlp.js')

/** @param {string} url */
async function seed (url) {
  const now = Date.now()
  /** @type {Record<string, any[]>} */
  const byVersion = { '1.0.0': [], '1.1.0': [] }
  /** @type {Record<string, any[]>} */
  const errors = { '1.0.0': [], '1.1.0': [] }
  let slowTrace = ''
  let failedTrace = ''
  for (let m = 20; m >= 1; m--) {
    const version = m > 10 ? '1.0.0' : '1.1.0'
    for (let i = 0; i < 12; i++) {
      const start = now - m * 60_000 + i * 4000
      const d = 5 + ((i * 7 + m * 3) % 30) + (m < 6 ? 15 : 0)
      byVersion[version].push(...o.transaction({ startMs: start, durationMs: d, children: [{ name: 'SELECT users', offsetMs: 1, durationMs: d / 2 }] }))
    }
    for (let i = 0; i < 3; i++) {
      const start = now - m * 60_000 + 1000 + i * 15_000
      const failed = version === '1.1.0' && i === 0
      const spans = o.transaction({ name: 'POST /orders', route: '/orders', method: 'POST', startMs: start, durationMs: 40, status: failed ? 500 : 201, children: [{ name: 'INSERT orders', offsetMs: 5, durationMs: 20 }] })
      byVersion[version].push(...spans)
      if (failed) {
        failedTrace = spans[0].traceId
        errors[version].push(o.errorRecord({ key: 'orders-constraint', type: 'DatabaseError', message: 'duplicate key value violates unique constraint "orders_pkey"', culprit: 'createOrder (routes/orders.js)', traceId: spans[0].traceId, spanId: spans[0].spanId, transactionName: 'POST /orders', timeMs: start + 30, stack: 'DatabaseError: duplicate key value violates unique constraint "orders_pkey"\n    at Parser.parseErrorMessage (/srv/app/node_modules/pg-protocol/dist/parser.js:285:98)\n    at createOrder (/srv/app/routes/orders.js:31:18)\n    at async handle (/srv/app/app.js:52:5)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)' }))
      }
    }
    const slow = o.transaction({ name: 'GET /slow', route: '/slow', startMs: now - m * 60_000 + 30_000, durationMs: 400 + m * 20, children: [{ name: 'SELECT pg_sleep', offsetMs: 10, durationMs: 300 }, { name: 'GET api.example.com', offsetMs: 320, durationMs: 60, attributes: { 'url.full': 'https://api.example.com/rates' } }] })
    byVersion[version].push(...slow)
    if (m === 20) slowTrace = slow[0].traceId
    if (m % 4 === 0) errors[version].push(o.errorRecord({ key: 'users-undefined', timeMs: now - m * 60_000 + 2000, transactionName: 'GET /users/:id' }))
  }
  for (const version of ['1.0.0', '1.1.0']) {
    const r = await o.post(url, '/v1/traces', o.traces(byVersion[version], { version }), { gzip: true })
    if (r.status !== 200) throw new Error(`seed traces: ${r.status} ${r.text}`)
    const l = await o.post(url, '/v1/logs', o.logs(errors[version], { version }), { gzip: true })
    if (l.status !== 200) throw new Error(`seed logs: ${l.status} ${l.text}`)
  }
  return { slowTrace, failedTrace }
}

module.exports = { seed }
