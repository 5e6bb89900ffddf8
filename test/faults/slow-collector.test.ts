// Collectors that misbehave at the TCP level: silent, trickling, stalling mid-body, resetting. Each export is
// abandoned at its deadline, the agent uses at most one socket, and the app under load is unaffected.
import t from 'tap'
import { startCollector, type RawMode } from './collector'
import { balanced, sleep, startApp, until } from './app'

const TIMEOUT_MS = 600

const modes: Array<[RawMode, string]> = [
  ['silent', 'accepts the connection and never answers'],
  ['trickle', 'answers at 1 byte per second'],
  ['stall', 'stalls in the middle of the response body'],
  ['reset', 'resets the connection']
]

for (const [mode, what] of modes) {
  t.test(`a collector that ${what}: exports abandoned at the deadline, one socket at most, app unaffected`, async (t) => {
    const collector = await startCollector(mode)
    t.teardown(() => collector.stop())
    const app = await startApp({
      APM_SERVER_URL: collector.url,
      APM_FLUSH_INTERVAL_MS: '50',
      APM_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
      APM_MAX_BACKOFF_MS: '300',
      APM_MAX_QUEUE_SIZE: '500'
    })
    t.teardown(() => app.child.kill('SIGKILL'))
    await app.send('load', { intervalMs: 20 })
    const runMs = 3000
    await sleep(runMs)
    await app.send('stopLoad')
    const r = await app.send('stats')

    t.equal(r.load.errorCount, 0, 'every app request succeeded: ' + r.load.errors.join('; '))
    t.ok(r.load.sent > 20, `${r.load.sent} app requests served`)
    t.equal(r.stats.delivered, 0, 'nothing counts as delivered')
    t.ok(balanced(r.stats), 'the books balance') || t.comment(r.stats)
    t.ok(r.stats.requests >= 2, `${r.stats.requests} export attempts`)
    t.ok(r.stats.failedRequests >= r.stats.requests - 1, 'every finished attempt failed (one may still be in flight)')
    // Each attempt takes the deadline (or fails at once for reset) plus a back-off of at least 150 ms.
    const perAttempt = mode === 'reset' ? 150 : TIMEOUT_MS
    t.ok(r.stats.requests <= runMs / perAttempt + 3, `attempts bounded: ${r.stats.requests} in ${runMs} ms`)
    t.ok(collector.maxConcurrentSockets <= 1, `at most one socket in use (saw ${collector.maxConcurrentSockets})`)
    if (mode !== 'reset') {
      const lifetimes = collector.sockets.filter((s) => s.closed !== undefined).map((s) => s.closed! - s.opened)
      t.ok(lifetimes.length >= 2, `${lifetimes.length} connections closed by the agent`)
      // The deadline runs from the start of an attempt; the first attempt also loads undici before it connects,
      // so its connection lives shorter.
      lifetimes.forEach((ms, i) => {
        t.ok(ms < TIMEOUT_MS + 1500 && (i === 0 || ms >= TIMEOUT_MS - 100), `a connection abandoned after ${ms} ms (deadline ${TIMEOUT_MS} ms)`)
      })
    }
    t.comment(`${mode}: ${r.stats.requests} attempts, ${collector.sockets.length} connections, max ${collector.maxConcurrentSockets} at once, app max latency ${r.load.maxLatencyMs.toFixed(1)} ms`)

    await app.send('exit')
    const exit = await app.exited
    t.same(exit, { code: 0, signal: null }, 'the app still exits by itself')
    t.notMatch(app.stderr(), /Unhandled|uncaught|TypeError/i)
  })
}

t.test('a request stuck on a silent collector is abandoned at the deadline and the next batch goes out', async (t) => {
  const collector = await startCollector('silent')
  t.teardown(() => collector.stop())
  const app = await startApp({ APM_SERVER_URL: collector.url, APM_FLUSH_INTERVAL_MS: '20', APM_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), APM_MAX_BACKOFF_MS: '100' })
  t.teardown(() => app.child.kill('SIGKILL'))
  await app.send('spans', { n: 1 })
  const first = await until(app, (r) => r.stats.failedRequests >= 1, 5000)
  t.equal(first.stats.failedRequests, 1)
  // Switch to a working collector on the same port: the held batch is delivered on the retry.
  await collector.stop()
  await collector.start(collector.port)
  const done = await until(app, (r) => r.stats.delivered === 1, 5000)
  t.equal(done.stats.delivered, 1)
  t.equal(collector.spanCount(), 1)
})
