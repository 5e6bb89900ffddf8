// Errors through the agent: what a captured error carries on the wire, its link to the transaction and span,
// grouping across call sites and processes, and .ts frames from a compiled TypeScript app.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import { startReceiver } from '../helpers/receiver'
import { FIXTURES, ROOT, runFixture } from '../helpers/child'
import agent from 'apm'

function failingLookup (key: string): never {
  throw new Error(`no such key: ${key}`)
}
function routeA (): void { failingLookup('a-17') }
function routeB (): void { failingLookup('b-99') }
function otherBug (): never { throw new Error('no such key: a-17') }

const catchFrom = (fn: () => void): unknown => {
  try { fn() } catch (err) { return err }
  throw new Error('did not throw')
}

t.test('captured errors on the wire', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'errors', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn' })
  t.teardown(() => agent.shutdown())

  t.test('an Error inside a transaction: a linked ERROR log record, an exception event and a failed span', async (t) => {
    const tx = agent.beginTransaction('checkout', 'job')!
    const span = agent.startSpan('charge card', 'app')!
    const err = Object.assign(new TypeError('card declined'), { code: 'E_DECLINED' })
    agent.captureError(err, { labels: { tenant: 'acme' } })
    span.end()
    agent.endTransaction()
    const [log] = await receiver.waitForLogs(1, (l) => l.attributes['exception.message'] === 'card declined')
    t.equal(log!.severityNumber, 17)
    t.equal(log!.severityText, 'ERROR')
    t.equal(log!.body, 'card declined')
    t.equal(log!.traceId, tx.traceId)
    t.equal(log!.spanId, span.id, 'linked to the span that was active')
    t.match(log!.attributes, {
      'exception.type': 'TypeError',
      'exception.code': 'E_DECLINED',
      'apm.error.handled': true,
      'apm.transaction.name': 'checkout',
      'apm.transaction.type': 'job',
      'labels.tenant': 'acme'
    })
    t.match(log!.attributes['apm.error.grouping_key'], /^[0-9a-f]{32}$/)
    t.match(String(log!.attributes['apm.error.culprit']), /test\/errors\/agent-errors\.test\.ts:\d+\)$/)
    t.match(String(log!.attributes['exception.stacktrace']), /^TypeError: card declined\n\s+at /)
    const frames = JSON.parse(String(log!.attributes['apm.error.frames']))
    const top = frames.find((f: any) => f.inApp)
    t.equal(top.file, 'test/errors/agent-errors.test.ts')
    t.match(top.context, /card declined/, 'source context of the application frame')
    const spans = await receiver.waitForSpans(1, (s) => s.spanId === span.id)
    t.equal(spans[0]!.status.code, 2)
    t.match(spans[0]!.events[0], { name: 'exception', attributes: { 'exception.type': 'TypeError', 'exception.message': 'card declined' } })
  })

  t.test('user and request passed to captureError are recorded without query, headers or body', async (t) => {
    agent.captureError(new Error('with context'), { user: { id: 7, username: 'ada' }, request: { method: 'POST', url: '/pay?card=4111111111111111' } })
    const [log] = await receiver.waitForLogs(1, (l) => l.attributes['exception.message'] === 'with context')
    t.match(log!.attributes, { 'user.id': '7', 'user.name': 'ada', 'http.request.method': 'POST', 'url.path': '/pay' })
    // (apm.error.frames holds this test's own source line, which spells the number out.)
    const { 'apm.error.frames': _frames, ...rest } = log!.attributes
    t.notMatch(JSON.stringify(rest), /4111/)
  })

  t.test("apm's own frames (its wrappers) are never application frames", async (t) => {
    const http = await import('node:http')
    const server = http.createServer((req, res) => {
      agent.captureError(new Error('inside a handler'))
      res.end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => server.close())
    await new Promise<void>((resolve) => http.get({ host: '127.0.0.1', port: (server.address() as any).port }, (res) => { res.resume(); res.on('end', resolve) }))
    const [log] = await receiver.waitForLogs(1, (l) => l.attributes['exception.message'] === 'inside a handler')
    const frames = JSON.parse(String(log!.attributes['apm.error.frames']))
    // (Under tap, source maps point the wrapper's frame at instrumentations/http.ts instead of dist/.)
    const own = frames.filter((f: any) => /(^|\/)(dist\/)?instrumentations\/http\.[jt]s$/.test(String(f.file)))
    t.ok(own.length > 0, 'the http wrapper is on the stack')
    t.ok(own.every((f: any) => !f.inApp && f.library), 'and marked as library code')
    t.match(String(log!.attributes['apm.error.culprit']), /agent-errors\.test\.ts/)
  })

  t.test('a string gets a stack from the capture site, not from inside apm', async (t) => {
    agent.captureError('plain string problem')
    const [log] = await receiver.waitForLogs(1, (l) => l.attributes['exception.message'] === 'plain string problem')
    const stack = String(log!.attributes['exception.stacktrace'])
    t.notMatch(stack, /dist\/lib\//, 'no agent frames')
    t.match(stack, /agent-errors\.test\.ts/)
    t.equal(log!.traceId, undefined, 'outside a transaction: no trace link')
  })

  t.test('hostile values never throw and still produce an error', async (t) => {
    const circular: any = { name: 'Circ' }
    circular.self = circular
    const throwing = { get message (): string { throw new Error('getter') }, get stack (): string { throw new Error('getter') } }
    const proxy = new Proxy({}, { get () { throw new Error('trap') }, ownKeys () { throw new Error('trap') }, getPrototypeOf () { throw new Error('trap') } })
    for (const v of [null, undefined, 42, circular, throwing, proxy, Symbol('s'), 10n, 'x'.repeat(10_000_000)]) {
      t.doesNotThrow(() => agent.captureError(v))
    }
    const logs = await receiver.waitForLogs(9, (l) => l.traceId === undefined && l.attributes['exception.message'] !== 'plain string problem')
    t.ok(logs.every((l) => String(l.attributes['exception.message']).length <= 2048), 'messages are truncated at 2 KiB')
  })

  t.test('the same bug from two call sites groups together; a different bug does not', async (t) => {
    agent.captureError(catchFrom(routeA))
    agent.captureError(catchFrom(routeB))
    agent.captureError(catchFrom(otherBug))
    const logs = await receiver.waitForLogs(3, (l) => /no such key/.test(String(l.attributes['exception.message'])))
    const key = (msg: string) => logs.filter((l) => l.attributes['exception.message'] === msg).map((l) => l.attributes['apm.error.grouping_key'])
    const [a] = key('no such key: a-17')
    t.equal(key('no such key: b-99')[0], logs.find((l) => l.attributes['exception.message'] === 'no such key: a-17' && l.attributes['apm.error.culprit'] === logs[0]!.attributes['apm.error.culprit'])!.attributes['apm.error.grouping_key'])
    const all = new Set(logs.map((l) => l.attributes['apm.error.grouping_key']))
    t.equal(all.size, 2, 'two bugs, two keys')
    t.ok(a !== undefined)
  })
})

t.test('a compiled TypeScript app reports .ts frames, with or without --enable-source-maps, under one key', async (t) => {
  const dir = mkdtempSync(join(FIXTURES, 'ts-agent-app', 'build-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [tsc, '--outDir', dir, '--rootDir', join(FIXTURES, 'ts-agent-app'), '--sourceMap', '--strict', '--esModuleInterop', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', join(FIXTURES, 'ts-agent-app', 'app.ts')], { cwd: ROOT }, (err, out, errOut) => err === null ? resolve() : reject(new Error(out + errOut)))
  })
  const source = readFileSync(join(FIXTURES, 'ts-agent-app', 'app.ts'), 'utf8').split('\n')
  const lineOf = (mark: string) => source.findIndex((l) => l.includes(mark)) + 1
  const tsFile = relative(ROOT, join(FIXTURES, 'ts-agent-app', 'app.ts'))
  const keys: unknown[] = []
  for (const nodeArgs of [[], ['--enable-source-maps']]) {
    const receiver = await startReceiver()
    t.teardown(() => receiver.close())
    const run = await runFixture(join(dir, 'app.js'), { nodeArgs, env: { APM_SERVER_URL: receiver.url } })
    t.equal(run.code, 1, 'the crash still exits with 1')
    const logs = await receiver.waitForLogs(2)
    const handled = logs.find((l) => l.attributes['apm.error.handled'] === true)!
    const crash = logs.find((l) => l.attributes['apm.error.handled'] === false)!
    t.match(String(handled.attributes['exception.stacktrace']), new RegExp(`app\\.ts:${lineOf('MARK:handled')}:`), `${nodeArgs.join(' ') || 'map next to the file'}: handled error on the .ts line`)
    t.match(String(handled.attributes['apm.error.culprit']), new RegExp(`priceOf \\(${tsFile.replace(/[./]/g, '\\$&')}:${lineOf('MARK:handled')}\\)`))
    t.match(String(crash.attributes['exception.stacktrace']), new RegExp(`app\\.ts:${lineOf('MARK:crash')}:`), 'the crash too')
    keys.push(handled.attributes['apm.error.grouping_key'])
  }
  t.equal(keys[0], keys[1], 'the same grouping key with and without --enable-source-maps')
})
