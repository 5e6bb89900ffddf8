#!/usr/bin/env node
// Soak: the collector is down for 60 s while an app serves a steady load, then comes back. Opt-in (not part of
// `npm test`, which shows the same properties with a 3 s outage in test/faults/collector-outage.test.ts):
//
//   npm run build && node test/soak/collector-outage.js            # 60 s outage, default agent settings
//   OUTAGE_S=120 RPS=200 node test/soak/collector-outage.js        # longer, heavier
//
// The app is test/fixtures/fault-app.js in a child process (default apm settings: queue 2048, back-off capped at
// 30 s). Pass criteria, checked at the end (exit code 1 and a FAIL line for each one missed):
//   - the app never sees an error and exits cleanly by itself (no unhandled rejection, no uncaught exception);
//   - RSS grows by less than 20 MB during the outage;
//   - export attempts during the outage are bounded by the back-off schedule (no tight retry loop);
//   - delivered + dropped == produced exactly once the load stopped and the queue drained;
//   - what was held during the outage is delivered after recovery within the retry schedule (≤ max back-off + 5 s).
'use strict'
const { spawn } = require('node:child_process')
const http = require('node:http')
const { join } = require('node:path')
const { gunzipSync } = require('node:zlib')

const OUTAGE_MS = Number(process.env.OUTAGE_S ?? 60) * 1000
const RPS = Number(process.env.RPS ?? 100)
const MAX_BACKOFF_MS = 30_000 // the default maxBackoffMs
const ROOT = join(__dirname, '..', '..')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const mb = (bytes) => (bytes / 1048576).toFixed(1) + ' MB'

// The collector: counts spans in what it accepts; can go down (connections refused) and come back on its port.
let received = 0
let server
let port = 0
function collectorUp () {
  server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      try {
        const body = JSON.parse(gunzipSync(Buffer.concat(chunks)))
        for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) received += ss.spans.length
      } catch {}
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => { port = server.address().port; resolve() }))
}
function collectorDown () {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(resolve))
}

// The app, driven over stdin (see the fixture).
function startApp () {
  const child = spawn(process.execPath, [join(ROOT, 'test', 'fixtures', 'fault-app.js')], {
    cwd: ROOT,
    env: { ...process.env, APM_SERVER_URL: `http://127.0.0.1:${port}` },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (c) => { stderr += c })
  const waiting = new Map()
  let buffered = ''
  let nextId = 1
  child.stdout.on('data', (c) => {
    buffered += c
    let nl
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const reply = JSON.parse(buffered.slice(0, nl))
      buffered = buffered.slice(nl + 1)
      waiting.get(reply.id)?.(reply)
      waiting.delete(reply.id)
    }
  })
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  const send = (cmd, args = {}) => new Promise((resolve) => {
    const id = nextId++
    waiting.set(id, resolve)
    child.stdin.write(JSON.stringify({ id, cmd, ...args }) + '\n')
  })
  const ready = new Promise((resolve) => waiting.set(0, resolve))
  return { send, ready, exited, stderr: () => stderr }
}

async function main () {
  await collectorUp()
  const app = startApp()
  await app.ready
  const failures = []
  const check = (ok, what) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
    if (!ok) failures.push(what)
  }

  console.log(`load ${RPS} requests/s; collector up for 5 s, down for ${OUTAGE_MS / 1000} s, then back`)
  await app.send('load', { intervalMs: Math.max(1, Math.round(1000 / RPS)) })
  await sleep(5000)
  await collectorDown()
  const start = await app.send('stats')
  let maxRss = start.memory.rss
  const t0 = Date.now()
  while (Date.now() - t0 < OUTAGE_MS) {
    await sleep(5000)
    const r = await app.send('stats')
    maxRss = Math.max(maxRss, r.memory.rss)
    const s = r.stats
    console.log(`  +${Math.round((Date.now() - t0) / 1000)} s: rss ${mb(r.memory.rss)}, queued ${s.queued}, in flight ${s.inFlight}, dropped ${s.dropped}, attempts ${s.requests - start.stats.requests}`)
  }
  const end = await app.send('stats')
  await collectorUp()
  const back = Date.now()
  const attempts = end.stats.requests - start.stats.requests
  // Back-off doubles from 250..500 ms up to 15..30 s: at most ~log2(cap/500) short waits, then one per ≥ 15 s.
  const bound = 8 + Math.ceil(OUTAGE_MS / (MAX_BACKOFF_MS / 2))
  check(attempts <= bound, `${attempts} export attempts during the outage (bound ${bound}: no tight loop)`)
  check(maxRss - start.memory.rss < 20 * 1048576, `RSS grew ${mb(maxRss - start.memory.rss)} during the outage (< 20 MB)`)

  let recovered
  while (Date.now() - back < MAX_BACKOFF_MS + 5000) {
    recovered = await app.send('stats')
    if (recovered.stats.delivered >= end.stats.delivered + end.stats.queued + end.stats.inFlight) break
    await sleep(500)
  }
  check(recovered.stats.delivered >= end.stats.delivered + end.stats.queued + end.stats.inFlight,
    `the ${end.stats.queued + end.stats.inFlight} events held at the end of the outage were delivered ${((Date.now() - back) / 1000).toFixed(1)} s after recovery`)

  await app.send('stopLoad')
  const final = await app.send('flush', { timeoutMs: 10_000 })
  const s = final.stats
  check(final.load.errorCount === 0 && final.load.ok === final.load.sent, `the app served ${final.load.ok}/${final.load.sent} requests without error (max latency ${final.load.maxLatencyMs.toFixed(0)} ms)`)
  check(s.queued + s.inFlight === 0 && s.delivered + s.dropped === s.produced, `delivered ${s.delivered} + dropped ${s.dropped} == produced ${s.produced}`)
  check(received === s.delivered, `the collector received ${received} spans, the agent counts ${s.delivered} delivered`)
  await app.send('exit')
  const exit = await app.exited
  check(exit.code === 0 && exit.signal === null, `the app exited by itself with code ${exit.code}`)
  check(!/Unhandled|uncaught|TypeError|RangeError/i.test(app.stderr()), 'no unhandled rejection or uncaught exception')
  console.log(`drops by reason: ${JSON.stringify(s.droppedByReason)}`)
  await collectorDown()
  process.exitCode = failures.length === 0 ? 0 : 1
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
