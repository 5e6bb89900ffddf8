// The books always balance: produced == queued + inFlight + delivered + dropped, at every moment.
import t from 'tap'
import { startCollector } from './collector'
import { balanced, startApp } from './app'

t.test('while a batch is being encoded, compressed and sent, its events count as in flight', async (t) => {
  const collector = await startCollector()
  t.teardown(() => collector.stop())
  const app = await startApp({ APM_SERVER_URL: collector.url })
  t.teardown(() => app.child.kill('SIGKILL'))
  for (let round = 0; round < 3; round++) {
    const r = await app.send('balanceDuringExport', { n: 512 })
    t.ok(r.samples > 0, `${r.samples} samples taken, ${r.inFlightSeen} with events in flight`)
    t.same(r.unbalanced, [], 'every sample balances')
  }
  t.equal(collector.spanCount(), 3 * 512)
})

t.test('shutdown with a collector that never answers: what was queued or in flight is dropped as shutdown, once', async (t) => {
  const collector = await startCollector('silent')
  t.teardown(() => collector.stop())
  const app = await startApp({ APM_SERVER_URL: collector.url, APM_FLUSH_INTERVAL_MS: '20', APM_MAX_BATCH_SIZE: '10' })
  t.teardown(() => app.child.kill('SIGKILL'))
  await app.send('spans', { n: 25 })
  const r = await app.send('shutdown', { timeoutMs: 300 })
  t.equal(r.stats.droppedByReason.shutdown, 25, 'all 25 dropped as shutdown')
  t.equal(r.stats.delivered, 0)
  t.ok(balanced(r.stats), 'the books balance')
  await app.send('spans', { n: 5 })
  const after = await app.send('stats')
  t.equal(after.stats.droppedByReason.shutdown, 30, 'events after shutdown are dropped and counted too')
  t.ok(balanced(after.stats))
  await app.send('exit')
  t.same(await app.exited, { code: 0, signal: null }, 'and the app exits by itself')
})
