// Transparency: the instrumented libraries behave identically with the agent. One fixture app exercises a slice of
// each library's own behaviour (http keep-alive, every http.get form, timeouts and aborts, fetch with a body stream,
// express routing edge cases, koa error handling, pg callback/promise/stream/pool and odd arguments) and prints
// everything it observed; with and without the agent the transcripts must be equal.
import t from 'tap'
import { startCollector } from '../faults/collector'
import { runFixture } from '../helpers/child'
import { startPostgres } from '../helpers/postgres'

t.test('every observed result, header, event order and error is the same with and without the agent', async (t) => {
  const db = await startPostgres()
  t.teardown(() => db.stop())
  const collector = await startCollector()
  t.teardown(() => collector.stop())
  const [withAgent, without] = await Promise.all([
    runFixture('fault-transparency.js', { nodeArgs: ['-r', 'apm/start'], env: { APM_SERVER_URL: collector.url, APM_FLUSH_INTERVAL_MS: '50', PG_URL: db.url } }),
    runFixture('fault-transparency.js', { env: { PG_URL: db.url } })
  ])
  t.equal(withAgent.code, 0, withAgent.stderr)
  t.equal(without.code, 0, without.stderr)
  const a = JSON.parse(withAgent.stdout)
  const b = JSON.parse(without.stdout)
  t.ok(a.length > 50, `${a.length} observations`)
  const labels = new Set(b.map(([label]: [string]) => label))
  for (const [label, value] of a) {
    const other = b.find(([l]: [string]) => l === label)
    t.same(value, other?.[1], label)
  }
  t.same(a.map(([l]: [string]) => l), [...labels], 'the same observations in the same order')
  t.equal(withAgent.stderr, '', 'the agent printed nothing')

  // The comparison means something only if the agent was really at work.
  const spans = collector.exchanges.flatMap((e) => e.spans > 0 ? JSON.parse(e.text).resourceSpans[0].scopeSpans[0].spans : [])
  const names = new Set(spans.map((s: any) => s.name))
  for (const name of ['GET /orgs/:org/users/:id', 'POST /fetch-stream', 'SELECT', 'pg.connect']) {
    t.ok([...names].some((n) => n === name || n.startsWith(name + ' ')), `traced: ${name}`)
  }
  t.ok([...names].some((n) => /^GET \/(ok|teapot)$/.test(n)), 'traced: koa requests')
  t.ok(spans.filter((s: any) => s.kind === 3 && s.name.startsWith('GET 127.0.0.1')).length >= 10, 'traced: the http.get calls as CLIENT spans')
})
