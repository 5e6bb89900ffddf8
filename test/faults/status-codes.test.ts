// How each collector answer is handled: which are retried, when, how drops are counted and logged.
import t, { type Test } from 'tap'
import { backoffMs } from '../../lib/export/exporter'
import { startCollector, type Collector } from './collector'
import { balanced, sleep, startApp, until, type App } from './app'

const MAX_BACKOFF_MS = 1000

async function setup (t: Test, env: Record<string, string> = {}): Promise<{ collector: Collector, app: App }> {
  const collector = await startCollector()
  t.teardown(() => collector.stop())
  const app = await startApp({
    APM_SERVER_URL: collector.url,
    APM_FLUSH_INTERVAL_MS: '20',
    APM_MAX_BACKOFF_MS: String(MAX_BACKOFF_MS),
    APM_LOG_LEVEL: 'debug',
    ...env
  })
  t.teardown(() => app.child.kill('SIGKILL'))
  return { collector, app }
}

/** The delays the agent logged ("retrying in N ms"), in order. */
function loggedDelays (stderr: string): number[] {
  return [...stderr.matchAll(/retrying in (\d+) ms/g)].map((m) => Number(m[1]))
}

t.test('400, 401, 403, 404, 413 and 500 are not retried: the batch is dropped, counted by reason, logged once per status', async (t) => {
  const { collector, app } = await setup(t)
  const statuses = [400, 401, 403, 404, 413, 500]
  let expectedDropped = 0
  for (const status of statuses) {
    collector.respond(() => ({ status, body: `{"error":"status ${status}"}` }))
    for (let round = 0; round < 2; round++) {
      const requestsBefore = collector.exchanges.length
      await app.send('spans', { n: 3 })
      expectedDropped += 3
      const r = await until(app, (r) => r.stats.droppedByReason.http_status === expectedDropped, 5000)
      t.equal(r.stats.droppedByReason.http_status, expectedDropped, `HTTP ${status}: the 3 events are dropped as http_status`)
      await sleep(100)
      t.equal(collector.exchanges.length, requestsBefore + 1, `HTTP ${status}: exactly one request, never retried`)
    }
  }
  const final = await app.send('stats')
  t.equal(final.stats.retries, 0)
  t.equal(final.stats.failedRequests, statuses.length * 2)
  t.equal(final.stats.delivered, 0)
  t.ok(balanced(final.stats), 'the books balance')
  for (const status of statuses) {
    const lines = app.stderr().split('\n').filter((l) => l.includes(`rejected with HTTP ${status}`))
    t.equal(lines.length, 1, `one log line for HTTP ${status} over two rejected batches`)
    t.match(lines[0], `status ${status}`, 'the line quotes the collector\'s answer')
  }
  t.match(app.stderr(), /HTTP 401 \(check secretToken\)/)
})

t.test('429 and 503 honour Retry-After in seconds and as an HTTP date', async (t) => {
  const { collector, app } = await setup(t)
  // Each case fails once with the header, then succeeds. The earliest allowed retry, from the first request's time:
  // seconds count from when the answer was read (just after), a date is absolute.
  const cases: Array<[number, string, (header: string, firstTime: number) => number]> = [
    [429, 'seconds', (_h, first) => first + 1000],
    [503, 'date', (h) => Date.parse(h)]
  ]
  for (const [status, form, earliest] of cases) {
    const start = collector.exchanges.length
    let header = ''
    collector.respond(() => {
      if (header !== '') return { status: 200, body: '{}' }
      header = form === 'seconds' ? '1' : new Date(Date.now() + 2000).toUTCString() // whole seconds: 1 to 2 s ahead
      return { status, headers: { 'retry-after': header } }
    })
    const before = await app.send('stats')
    await app.send('spans', { n: 2 })
    await until(app, (r) => r.stats.delivered === before.stats.delivered + 2, 8000, 100)
    const [first, second] = collector.exchanges.slice(start)
    const allowed = earliest(header, first!.time)
    t.ok(second!.time >= allowed - 50, `HTTP ${status}, Retry-After ${JSON.stringify(header)}: retried ${second!.time - first!.time} ms after the first attempt, not before ${allowed - first!.time} ms`)
    t.ok(second!.time < allowed + 2500, 'and not much later')
    t.equal(collector.exchanges.length - start, 2, 'one retry')
  }
  const r = await app.send('stats')
  t.equal(r.stats.retries, 2)
  t.equal(r.stats.dropped, 0)
})

t.test('an absurd Retry-After is capped at 60 s, and Retry-After 0 or a past date never makes a tight loop', async (t) => {
  const { collector, app } = await setup(t, { APM_LOG_LEVEL: 'debug' })
  collector.respond(() => ({ status: 503, headers: { 'retry-after': '999999999' } }))
  await app.send('spans', { n: 1 })
  const held = await until(app, (r) => r.stats.failedRequests === 1, 5000)
  t.equal(held.stats.inFlight, 1, 'the batch is held for retry')
  await until(app, () => loggedDelays(app.stderr()).length === 1, 2000)
  t.same(loggedDelays(app.stderr()), [60_000], 'the retry is scheduled at the 60 s cap')

  collector.respond(() => ({ status: 429, headers: { 'retry-after': 'Fri, 01 Jan 2100 00:00:00 GMT' } }))
  await app.send('flush', { timeoutMs: 2000 }) // an explicit flush tries the held batch now
  await until(app, () => loggedDelays(app.stderr()).length === 2, 2000)
  t.equal(loggedDelays(app.stderr())[1], 60_000, 'an HTTP date far in the future is capped too')

  // Retry-After: 0, a date in the past and nonsense all fall back to at least the back-off.
  let n = 0
  const values = ['0', 'Thu, 01 Jan 1970 00:00:00 GMT', '1.5', '-3']
  collector.respond(() => n < values.length ? { status: 503, headers: { 'retry-after': values[n++]! } } : { status: 200 })
  const start = collector.exchanges.length
  await app.send('flush', { timeoutMs: 2000 })
  const done = await until(app, (r) => r.stats.delivered === 1, 10_000, 100)
  t.equal(done.stats.delivered, 1, 'delivered once the collector accepts')
  const times = collector.exchanges.slice(start).map((e) => e.time)
  t.equal(times.length, values.length + 1)
  const delays = loggedDelays(app.stderr()).slice(2)
  for (let i = 0; i < values.length; i++) {
    const attempt = i + 3 // the batch's earlier attempts count
    const ceiling = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (attempt - 1))
    t.ok(delays[i]! >= ceiling / 2 && delays[i]! <= ceiling, `Retry-After ${JSON.stringify(values[i])}: waited the back-off (${delays[i]} ms in [${ceiling / 2}, ${ceiling}])`)
    t.ok(times[i + 1]! - times[i]! >= ceiling / 2 - 20, `and the next attempt came ${times[i + 1]! - times[i]!} ms later`)
  }
})

t.test('502 and 504 without Retry-After back off per the documented formula, reset after a success', async (t) => {
  const { collector, app } = await setup(t)
  // Three failures, then success; then a new batch fails once more, then succeeds.
  const plan = [502, 504, 502, 200, 504, 200]
  collector.respond((_req, n) => ({ status: plan[n - 1] ?? 200 }))
  await app.send('spans', { n: 2 })
  await until(app, (r) => r.stats.delivered === 2, 10_000, 100)
  await app.send('spans', { n: 2 })
  const r = await until(app, (r) => r.stats.delivered === 4, 10_000, 100)
  t.equal(r.stats.retries, 4)
  t.equal(r.stats.failedRequests, 4)
  t.equal(r.stats.dropped, 0)

  const delays = loggedDelays(app.stderr())
  const times = collector.exchanges.map((e) => e.time)
  // attempt numbers of the failures: 1, 2, 3 for the first batch, then 1 again (reset) for the second.
  const attempts = [1, 2, 3, 1]
  const gaps = [times[1]! - times[0]!, times[2]! - times[1]!, times[3]! - times[2]!, times[5]! - times[4]!]
  t.equal(delays.length, 4)
  for (let i = 0; i < attempts.length; i++) {
    const ceiling = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (attempts[i]! - 1))
    t.ok(delays[i]! >= ceiling / 2 && delays[i]! <= ceiling, `failure ${i + 1} (attempt ${attempts[i]}): delay ${delays[i]} ms within [${ceiling / 2}, ${ceiling}]`)
    t.ok(gaps[i]! >= delays[i]! - 20 && gaps[i]! < delays[i]! + 1500, `the next request came ${gaps[i]} ms later`)
  }
  t.ok(delays[3]! <= 500, 'the back-off starts over after a success')
})

t.test('backoffMs: exponential from 500 ms, capped, equal jitter', async (t) => {
  t.equal(backoffMs(1, 30_000, 0), 250)
  t.equal(backoffMs(1, 30_000, 1), 500)
  t.equal(backoffMs(2, 30_000, 0), 500)
  t.equal(backoffMs(4, 30_000, 1), 4000)
  t.equal(backoffMs(10, 30_000, 0), 15_000)
  t.equal(backoffMs(10, 30_000, 1), 30_000)
  t.equal(backoffMs(1000, 30_000, 0.5), 22_500, 'huge attempt numbers stay finite')
})

t.test('200 with partialSuccess: not retried, the rejected count recorded', async (t) => {
  const { collector, app } = await setup(t)
  collector.respond(() => ({ status: 200, body: '{"partialSuccess":{"rejectedSpans":"2","errorMessage":"2 spans too old"}}' }))
  await app.send('spans', { n: 5 })
  const r = await until(app, (r) => r.stats.delivered + r.stats.dropped === 5, 5000)
  await sleep(100)
  t.equal(collector.exchanges.length, 1, 'one request, not retried')
  t.equal(r.stats.droppedByReason.rejected, 2)
  t.equal(r.stats.delivered, 3)
  t.equal(r.stats.retries, 0)
  t.match(app.stderr(), /receiver rejected 2 of 5 events: 2 spans too old/)
})

t.test('redirects are not followed (the token never goes elsewhere): the batch is dropped as http_status', async (t) => {
  const other = await startCollector()
  t.teardown(() => other.stop())
  const { collector, app } = await setup(t, { APM_SECRET_TOKEN: 'redirect-token' })
  let n = 0
  for (const status of [301, 302, 307, 308]) {
    collector.respond(() => ({ status, headers: { location: `${other.url}/v1/traces` } }))
    await app.send('spans', { n: 1 })
    n++
    await until(app, (r) => r.stats.droppedByReason.http_status === n, 5000)
  }
  await sleep(100)
  t.equal(other.exchanges.length, 0, 'nothing reached the redirect target')
  t.equal(collector.exchanges.length, 4, 'one request per batch, no retry')
  t.equal((await app.send('stats')).stats.droppedByReason.http_status, 4)
})

t.test('a collector answering with a huge body: at most 64 KiB of it is read', async (t) => {
  const { collector, app } = await setup(t)
  const huge = '{"partialSuccess":{},"padding":"' + 'x'.repeat(20 * 1024 * 1024) + '"}'
  collector.respond(() => ({ status: 200, body: huge }))
  await app.send('spans', { n: 4 })
  const r = await until(app, (r) => r.stats.delivered === 4, 10_000)
  t.equal(r.stats.delivered, 4, 'delivered: the status decides, not the unreadable body')
  t.ok(r.memory.rss < 200 * 1024 * 1024, `the app's RSS stays at ${(r.memory.rss / 1048576).toFixed(0)} MB`)
  await app.send('spans', { n: 1 })
  t.equal((await until(app, (r) => r.stats.delivered === 5, 10_000)).stats.delivered, 5, 'and the next export works')
})
