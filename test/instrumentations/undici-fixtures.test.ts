import t from 'tap'
import { startReceiver } from '../helpers/receiver'
import { runFixture } from '../helpers/child'

const CLIENT = 3

t.test('node -r apm/start: global fetch in a CommonJS app is a CLIENT span of its transaction', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const run = await runFixture('fetch-cjs.js', { nodeArgs: ['-r', 'apm/start'], env: { APM_SERVER_URL: receiver.url, APM_FLUSH_INTERVAL_MS: '50' } })
  t.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout)
  t.equal(out.started, true)
  const [span] = await receiver.waitForSpans(1, (s) => s.kind === CLIENT && s.traceId === out.traceId)
  t.equal(span!.parentSpanId, out.txId)
  t.match(span!.name, /^GET 127\.0\.0\.1:\d+$/)
  t.match(String(span!.attributes['url.full']), /\/from-cjs$/)
  t.equal(out.fetch, `00-${out.traceId}-${span!.spanId}-01`, 'downstream got the client span as parent')
})

t.test('node --import apm/start: global fetch and an imported undici in an ES module app are traced', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const run = await runFixture('fetch-esm.mjs', { nodeArgs: ['--import', 'apm/start'], env: { APM_SERVER_URL: receiver.url, APM_FLUSH_INTERVAL_MS: '50' } })
  t.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout)
  t.equal(out.started, true)
  const spans = await receiver.waitForSpans(2, (s) => s.kind === CLIENT && s.traceId === out.traceId)
  const viaFetch = spans.find((s) => String(s.attributes['url.full']).endsWith('/from-esm-fetch'))!
  const viaUndici = spans.find((s) => String(s.attributes['url.full']).endsWith('/from-esm-undici'))!
  t.ok(viaFetch && viaUndici, 'one span per request')
  for (const span of [viaFetch, viaUndici]) t.equal(span.parentSpanId, out.txId)
  t.equal(out.fetch, `00-${out.traceId}-${viaFetch.spanId}-01`)
  t.equal(out.undici, `00-${out.traceId}-${viaUndici.spanId}-01`)
})
