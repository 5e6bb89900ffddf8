import t from 'tap'
import { startReceiver } from '../helpers/receiver'
import { startPostgres } from '../helpers/postgres'
import { runFixture } from '../helpers/child'

const CLIENT = 3

t.test('pg in child-process apps: CommonJS and ES module, preloaded, imported or started in code', async (t) => {
  const db = await startPostgres()
  t.teardown(() => db.stop())

  for (const [fixture, nodeArgs, name] of [
    ['pg-app.js', ['-r', 'apm/start'], 'pg-cjs'],
    ['pg-app.js', ['--import', 'apm/start'], 'pg-cjs'],
    ['pg-code-start.js', [], 'pg-cjs'],
    ['pg-app.mjs', ['--import', 'apm/start'], 'pg-esm'],
    ['pg-app.mjs', ['-r', 'apm/start'], 'pg-esm']
  ] as const) {
    t.test(`node ${[...nodeArgs, fixture].join(' ')}: connect, queries, stream and pool are spans of the transaction`, async (t) => {
      const receiver = await startReceiver()
      t.teardown(() => receiver.close())
      const run = await runFixture(fixture, { nodeArgs: [...nodeArgs], env: { APM_SERVER_URL: receiver.url, APM_FLUSH_INTERVAL_MS: '50', PG_URL: db.url } })
      t.equal(run.code, 0, run.stderr)
      t.notMatch(run.stderr, /not instrumented|could not instrument/, 'no loader warning')
      const out = JSON.parse(run.stdout)
      t.match(out, { started: true, greeting: 'hello', streamed: 55, failure: '42601' })
      const [tx] = await receiver.waitForSpans(1, (s) => s.spanId === out.txId)
      t.equal(tx!.name, name)
      const spans = await receiver.waitForSpans(7, (s) => s.kind === CLIENT && s.traceId === out.traceId)
      for (const s of spans) {
        t.equal(s.parentSpanId, out.txId, `${s.name} is a child of the transaction`)
        t.equal(s.attributes['db.system.name'], 'postgresql')
      }
      const texts = spans.map((s) => s.attributes['db.query.text']).filter((x) => x !== undefined).sort()
      t.same(texts, ['SELEC ?', 'SELECT $1::text AS greeting', 'SELECT ? AS via_callback', 'SELECT ? AS via_pool', 'SELECT n FROM generate_series(?, ?) AS n'])
      t.equal(spans.filter((s) => s.name === 'pg.connect').length, 2, 'client and pool connections')
      const failed = spans.find((s) => s.attributes['db.query.text'] === 'SELEC ?')!
      t.equal(failed.status.code, 2)
      t.equal(failed.attributes['error.type'], '42601')
    })
  }
})
