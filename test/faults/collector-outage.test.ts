// The collector goes down while the app serves a steady load, then comes back (a short outage with fast retry
// settings: the same properties as test/soak/collector-outage.js shows over 60 s).
import t from 'tap'
import { startCollector } from './collector'
import { balanced, sleep, startApp, until } from './app'

t.test('a collector outage under steady load: app unaffected, memory bounded, no retry loop, exact accounting, delivery after recovery', async (t) => {
  const collector = await startCollector()
  t.teardown(() => collector.stop())
  const app = await startApp({
    APM_SERVER_URL: collector.url,
    APM_FLUSH_INTERVAL_MS: '100',
    APM_MAX_BACKOFF_MS: '400',
    APM_REQUEST_TIMEOUT_MS: '1000',
    APM_MAX_QUEUE_SIZE: '300'
  })
  t.teardown(() => app.child.kill('SIGKILL'))

  // ~100 requests/s, each a SERVER transaction, a CLIENT span and an app span: ~300 events/s.
  await app.send('load', { intervalMs: 10 })
  await sleep(1000)
  const before = await until(app, (r) => r.stats.delivered > 0, 5000)
  t.ok(before.stats.delivered > 0, 'data flows while the collector is up')

  const outageMs = 3000
  await collector.stop()
  const outageStart = await app.send('stats')
  let maxRss = outageStart.memory.rss
  const deadline = Date.now() + outageMs
  while (Date.now() < deadline) {
    await sleep(250)
    const r = await app.send('stats')
    maxRss = Math.max(maxRss, r.memory.rss)
    t.ok(balanced(r.stats), 'produced == queued + inFlight + delivered + dropped at every moment') || t.comment(r.stats)
  }
  const outageEnd = await app.send('stats')
  const attempts = outageEnd.stats.requests - outageStart.stats.requests
  // Back-off from 250..500 ms, capped at 400 ms (200..400 with jitter): at most ~outage/200 attempts.
  t.ok(attempts >= 2 && attempts <= outageMs / 200 + 3, `${attempts} export attempts during a ${outageMs} ms outage (no tight loop)`)
  t.ok(outageEnd.stats.droppedByReason.queue_full > 0, `the bounded queue dropped ${outageEnd.stats.droppedByReason.queue_full} events`)
  t.ok(maxRss - outageStart.memory.rss < 20 * 1024 * 1024, `RSS grew ${((maxRss - outageStart.memory.rss) / 1048576).toFixed(1)} MB during the outage`)

  await collector.start()
  const received = collector.spanCount()
  const recovered = await until(app, (r) => r.stats.delivered > outageEnd.stats.delivered + 300, 5000)
  t.ok(recovered.stats.delivered > outageEnd.stats.delivered, 'what was queued is delivered after recovery')
  t.ok(collector.spanCount() > received)

  await app.send('stopLoad')
  const final = await app.send('flush', { timeoutMs: 5000 })
  t.equal(final.load.errorCount, 0, 'every app request succeeded: ' + final.load.errors.join('; '))
  t.equal(final.load.ok, final.load.sent)
  t.equal(final.stats.queued + final.stats.inFlight, 0, 'nothing left queued')
  t.equal(final.stats.delivered + final.stats.dropped, final.stats.produced, 'delivered + dropped == produced exactly')
  t.equal(collector.spanCount(), final.stats.delivered, 'the collector received exactly what the agent counts as delivered')
  t.same(Object.keys(final.stats.droppedByReason).filter((k) => (final.stats.droppedByReason as any)[k] > 0), ['queue_full'], 'drops are all queue_full')
  t.comment(`outage: ${attempts} attempts, RSS +${((maxRss - outageStart.memory.rss) / 1048576).toFixed(1)} MB, ${final.stats.produced} produced, ${final.stats.delivered} delivered, ${final.stats.dropped} dropped`)

  const agentLines = app.stderr().split('\n').filter((l) => l.startsWith('apm '))
  t.ok(agentLines.length <= 3, `the agent logged ${agentLines.length} lines over the whole outage (rate-limited): ${agentLines.join(' | ')}`)

  await app.send('exit')
  const exit = await app.exited
  t.same(exit, { code: 0, signal: null }, 'the app exits cleanly by itself')
  t.notMatch(app.stderr(), /Unhandled|uncaught|TypeError|RangeError/i, 'no unhandled rejection or uncaught exception')
})
