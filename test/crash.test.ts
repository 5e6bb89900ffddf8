import t from 'tap'
import { startReceiver } from './helpers/receiver'
import { runFixture } from './helpers/child'

// Warnings carry the pid; everything else Node prints must be byte-identical with and without apm.
const normalize = (s: string): string => s.replace(/\(node:\d+\)/g, '(node:PID)')

t.test('an uncaught exception is delivered first, then the process dies exactly as without apm', async (t) => {
  const bare = await runFixture('crash-uncaught.js')
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const traced = await runFixture('crash-uncaught.js', { nodeArgs: ['-r', 'apm/start'], env: { APM_SERVER_URL: receiver.url } })
  t.equal(bare.code, 1)
  t.equal(traced.code, bare.code, 'same exit code')
  t.equal(traced.signal, bare.signal)
  t.equal(normalize(traced.stderr), normalize(bare.stderr), 'same stderr, source line and caret included')
  const [log] = receiver.logs()
  t.ok(log, 'the error arrived before the exit')
  t.match(log!.attributes, {
    'exception.type': 'TypeError',
    'exception.message': 'boom: cannot read the order',
    'apm.error.handled': false,
    'apm.transaction.name': 'GET /orders/7'
  })
  t.match(String(log!.attributes['exception.stacktrace']), /at Timeout\.explode .*crash-uncaught\.js:7/)
  t.match(String(log!.attributes['apm.error.culprit']), /explode \(test\/fixtures\/crash-uncaught\.js:7\)/)
  const [tx] = receiver.spans().filter((s) => s.name === 'GET /orders/7')
  t.ok(tx, 'the transaction it broke was sent too')
  t.equal(log!.traceId, tx!.traceId, 'the error is linked to its trace')
  t.equal(tx!.status.code, 2)
  t.equal(tx!.attributes['apm.transaction.result'], 'crashed')
})

t.test('a crash with an unreachable collector still dies promptly and identically', async (t) => {
  const bare = await runFixture('crash-uncaught.js')
  const receiver = await startReceiver(() => null)
  t.teardown(() => receiver.close())
  const traced = await runFixture('crash-uncaught.js', { nodeArgs: ['-r', 'apm/start'], env: { APM_SERVER_URL: receiver.url } })
  t.equal(traced.code, bare.code)
  t.ok(traced.durationMs < bare.durationMs + 3000, `took ${traced.durationMs} ms (bare ${bare.durationMs} ms)`)
  t.match(traced.stderr, /could not deliver the fatal error/)
  t.equal(normalize(traced.stderr.replace(/^apm warn: could not deliver.*\n/m, '')), normalize(bare.stderr))
})

const modes = [undefined, 'throw', 'strict', 'warn', 'none', 'warn-with-error-code']
for (const mode of modes) {
  for (const reason of ['error', 'value']) {
    t.test(`unhandled rejection (${reason}) under --unhandled-rejections=${mode ?? '(default)'} behaves as without apm and is captured`, async (t) => {
      const nodeArgs = mode === undefined ? [] : [`--unhandled-rejections=${mode}`]
      const args = reason === 'value' ? ['value'] : []
      const bare = await runFixture('crash-rejection.js', { nodeArgs: [...nodeArgs, '-r', 'apm/start'], args, env: { APM_ACTIVE: 'false' } })
      const receiver = await startReceiver()
      t.teardown(() => receiver.close())
      const traced = await runFixture('crash-rejection.js', { nodeArgs: [...nodeArgs, '-r', 'apm/start'], args, env: { APM_SERVER_URL: receiver.url } })
      t.equal(traced.code, bare.code, `exit code ${bare.code}`)
      t.equal(traced.stdout, bare.stdout, 'the process lives on exactly when it would have')
      t.equal(normalize(traced.stderr), normalize(bare.stderr), 'same stderr')
      const logs = await receiver.waitForLogs(1, () => true, 5000)
      t.equal(logs[0]!.attributes['apm.error.handled'], false)
      if (reason === 'error') {
        t.equal(logs[0]!.attributes['exception.type'], 'RangeError')
        t.equal(logs[0]!.attributes['exception.message'], 'rejected: out of range')
      } else {
        t.match(String(logs[0]!.attributes['exception.message']), /42/)
      }
      t.ok(logs[0]!.traceId, 'linked to the job transaction')
    })
  }
}

t.test('with an uncaughtException listener of its own the app decides; apm only captures', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const run = await runFixture('crash-handled.js', { nodeArgs: ['-r', 'apm/start'], env: { APM_SERVER_URL: receiver.url } })
  t.equal(run.code, 0)
  t.match(run.stdout, /app handled: boom/)
  t.match(run.stdout, /still running/)
  const [log] = await receiver.waitForLogs(1)
  t.equal(log!.attributes['exception.message'], 'boom')
})

t.test('an error captured just before a crash is delivered with it', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const run = await runFixture('crash-after-capture.js', { nodeArgs: ['-r', 'apm/start'], env: { APM_SERVER_URL: receiver.url } })
  t.equal(run.code, 1)
  const messages = receiver.logs().map((l) => l.attributes['exception.message']).sort()
  t.same(messages, ['captured just before', 'then crashed'])
})
