import t from 'tap'
import { startReceiver } from './helpers/receiver'
import { runFixture } from './helpers/child'

t.test('a finished script exits by itself, promptly, with its data delivered', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const run = await runFixture('exit-job.js', { env: { APM_SERVER_URL: receiver.url } })
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout.trim(), '{"done":true}')
  t.ok(run.durationMs < 3000, `exited after ${run.durationMs} ms`)
  const spans = receiver.spans()
  t.same(spans.map((s) => s.name).sort(), ['exit-job', 'work'], 'both spans arrived before the exit')
})

t.test('with a collector that never answers the script still exits within about a second', async (t) => {
  const receiver = await startReceiver(() => null)
  t.teardown(() => receiver.close())
  const run = await runFixture('exit-job.js', { env: { APM_SERVER_URL: receiver.url } })
  t.equal(run.code, 0, run.stderr)
  t.equal(run.timedOut, false)
  t.ok(run.durationMs < 4000, `exited after ${run.durationMs} ms (export deadline 10 s, exit deadline 1 s)`)
  t.ok(receiver.requests.length >= 1, 'the export was attempted')
})

t.test('with no collector listening at all the script exits promptly and the app is unaffected', async (t) => {
  const run = await runFixture('exit-job.js', { env: { APM_SERVER_URL: 'http://127.0.0.1:9' } })
  t.equal(run.code, 0, run.stderr)
  t.ok(run.durationMs < 4000, `exited after ${run.durationMs} ms`)
  t.equal(run.stdout.trim(), '{"done":true}')
})
