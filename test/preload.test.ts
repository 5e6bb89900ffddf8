import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { startReceiver } from './helpers/receiver'
import { FIXTURES, ROOT, runFixture } from './helpers/child'

t.test('node -r apm/start traces a CommonJS app configured by environment', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const run = await runFixture('preload-cjs.js', {
    nodeArgs: ['-r', 'apm/start'],
    env: { APM_SERVER_URL: receiver.url, APM_SERVICE_NAME: 'preload-cjs', APM_ENVIRONMENT: 'test' }
  })
  t.equal(run.code, 0, run.stderr)
  t.same(JSON.parse(run.stdout), { started: true, status: 200 })
  const [tx] = await receiver.waitForSpans(1, (s) => s.name === 'GET /preloaded-cjs')
  t.equal(tx!.resource['service.name'], 'preload-cjs')
  t.equal(tx!.resource['deployment.environment.name'], 'test')
})

t.test('node --import apm/start traces an ES module app, named builtin imports included', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const run = await runFixture('preload-esm.mjs', {
    nodeArgs: ['--import', 'apm/start'],
    env: { APM_SERVER_URL: receiver.url, OTEL_SERVICE_NAME: 'preload-esm' }
  })
  t.equal(run.code, 0, run.stderr)
  t.same(JSON.parse(run.stdout), { started: true, status: 200 })
  const spans = await receiver.waitForSpans(3, (s) => s.resource['service.name'] === 'preload-esm')
  const job = spans.find((s) => s.name === 'esm-job')!
  const tx = spans.find((s) => s.name === 'GET /preloaded-esm')!
  const client = spans.find((s) => s.kind === 3)!
  t.ok(job && tx && client, 'job, client span (from the named import `get`) and server transaction')
  t.equal(client.parentSpanId, job.spanId, 'the client span belongs to the job')
  t.equal(tx.parentSpanId, client.spanId, 'the server continued the client span')
})

t.test('starting in code works from ESM and CommonJS, and require/import give the same agent', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const esm = await runFixture('code-start.mjs', { env: { APM_SERVER_URL: receiver.url } })
  t.equal(esm.code, 0, esm.stderr)
  t.same(JSON.parse(esm.stdout), { sameObject: true, started: true })
  const cjs = await runFixture('code-start.cjs', { env: { APM_SERVER_URL: receiver.url } })
  t.equal(cjs.code, 0, cjs.stderr)
  t.same(JSON.parse(cjs.stdout), { started: true, hasDefault: true })
  await receiver.waitForSpans(1, (s) => s.name === 'GET /code-start' && s.resource['service.name'] === 'code-start-esm')
  await receiver.waitForSpans(1, (s) => s.name === 'GET /code-start-cjs' && s.resource['service.name'] === 'code-start-cjs')
})

t.test('the package ships typings that describe the public API', async (t) => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const result = await new Promise<{ code: number | null, out: string }>((resolve) => {
    execFile(process.execPath, [tsc, '--noEmit', '--strict', '--esModuleInterop', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', join(FIXTURES, 'typed-app.ts')], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as any).code, out: stdout + stderr })
    })
  })
  t.equal(result.code, 0, result.out)
})
