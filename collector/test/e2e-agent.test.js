// @ts-check
'use strict'

const t = require('tap')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { collector } = require('./helpers/collector.js')
const o = require('./helpers/otlp.js')

const ROOT = path.join(__dirname, '../..')
const START = path.join(ROOT, 'dist/lib/start.js')

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** @template T @param {() => T | null | undefined | false} fn @param {number} timeoutMs @returns {Promise<T>} */
async function eventually (fn, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out waiting for data from the agent')
    await sleep(200)
  }
}

t.test('the real agent → collector → store → queries and dashboard', { skip: fs.existsSync(START) ? false : `the agent is not built (${START}); run npm run build at the root` }, async (t) => {
  const c = await collector(t, { token: 'e2e-secret' })
  const app = spawn(process.execPath, ['-r', 'apm/start', path.join(__dirname, 'fixtures/agent-app.js')], {
    cwd: ROOT,
    env: { ...process.env, APM_SERVER_URL: c.url, APM_SECRET_TOKEN: 'e2e-secret', APM_SERVICE_NAME: 'e2e-app', APM_SERVICE_VERSION: '2.0.0', APM_ENVIRONMENT: 'e2e', APM_FLUSH_INTERVAL_MS: '200' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  app.stdout.on('data', (d) => { out += d })
  app.stderr.on('data', (d) => { out += d })
  t.teardown(() => { if (app.exitCode === null) app.kill('SIGKILL') })
  const port = await eventually(() => /listening (\d+)/.exec(out)?.[1], 10000)
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 5; i++) t.equal((await o.get(`${base}/users/${i}`)).status, 200)
  t.equal((await o.request(`${base}/checkout`, { method: 'POST' })).status, 500)

  const nowUs = () => Date.now() * 1000
  const txs = await eventually(() => {
    const rows = c.queries.transactions('e2e-app', nowUs() - 3600e6, nowUs() + 60e6)
    return rows.find((r) => r.name === 'GET /users/:id')?.count === 5 && rows.some((r) => r.name === 'POST /checkout') && rows
  })
  t.match(txs.find((r) => r.name === 'GET /users/:id'), { type: 'request', count: 5, errorRate: 0 })
  t.match(txs.find((r) => r.name === 'POST /checkout'), { count: 1, errorRate: 1 })
  t.equal(c.stats.unauthorized, 0, 'the agent sent the bearer token')

  // a trace of GET /users/:id holds the outgoing fetch and the incoming /internal/profile it caused
  const [slow] = /** @type {any[]} */ (c.queries.slowest('e2e-app', 'GET /users/:id', nowUs() - 3600e6, nowUs() + 60e6, 1))
  const trace = await eventually(() => { const tr = c.queries.trace(slow.traceId); return tr.spans.length >= 3 && tr })
  t.equal(trace.spans[0].name, 'GET /users/:id')
  t.ok(trace.spans.some((s) => s.kind === 3 && s.depth === 1), 'an outgoing CLIENT span under the transaction')
  t.ok(trace.spans.some((s) => s.name === 'GET /internal/profile' && s.depth === 2), 'the downstream transaction nested under the call')
  t.equal(trace.spans[0].release, '2.0.0')
  t.equal(trace.spans[0].environment, 'e2e')

  const groups = await eventually(() => { const g = c.queries.errorGroups('e2e-app', nowUs() - 3600e6, nowUs() + 60e6); return g.length > 0 && g })
  t.match(groups[0], { type: 'PaymentDeclinedError', message: 'card declined', count: 1, firstRelease: '2.0.0' })
  const group = c.queries.errorGroup('e2e-app', groups[0].groupingKey, nowUs() - 3600e6, nowUs() + 60e6)
  t.match(group?.latest, { transactionName: 'POST /checkout' })
  t.ok(group?.latest.frames.some((/** @type {any} */ f) => f.app && f.line.includes('agent-app.js')), 'the app frame is recognised in the stack')

  const page = await o.get(`${c.url}/services/e2e-app/transactions`)
  t.equal(page.status, 200)
  t.match(page.text, /GET \/users\/:id/)
  t.match(page.text, /id="latency-chart"/)
  const errPage = await o.get(`${c.url}/services/e2e-app/errors/${encodeURIComponent(groups[0].groupingKey)}`)
  t.match(errPage.text, /class="frame app">\s*at chargeCard \(.*agent-app\.js/)

  app.kill('SIGTERM')
  await new Promise((resolve) => app.once('exit', resolve))
})
