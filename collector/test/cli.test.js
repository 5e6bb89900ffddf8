// @ts-check
'use strict'

const t = require('tap')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { tempDir } = require('./helpers/collector.js')
const { spawnCollector, runCommand, stop } = require('./helpers/process.js')
const o = require('./helpers/otlp.js')

t.test('the collector prints where it listens and where the dashboard is, and exits 0 on SIGTERM', async (t) => {
  const dataDir = tempDir()
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const c = await spawnCollector(['--port', '0', '--data', dataDir, '--token', 'abc', '--retention-days', '3'])
  t.teardown(() => stop(c.child, 'SIGKILL'))
  t.match(c.output(), /intake\s+http:\/\/127\.0\.0\.1:\d+\/v1\/traces/)
  t.match(c.output(), /dashboard\s+http:\/\/127\.0\.0\.1:\d+\//)
  t.match(c.output(), /retention 3 days/)
  t.match(c.output(), /bearer token required/)
  t.equal((await o.post(c.url, '/v1/traces', o.traces(o.transaction()))).status, 401)
  t.equal((await o.get(c.url + '/')).status, 200)
  t.equal(await stop(c.child, 'SIGTERM'), 0)
})

t.test('a port in use ends with one clear line and exit code 1', async (t) => {
  const blocker = net.createServer()
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', () => resolve(undefined)))
  t.teardown(() => blocker.close())
  const port = /** @type {net.AddressInfo} */ (blocker.address()).port
  const dataDir = tempDir()
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const r = await runCommand(['--port', String(port), '--data', dataDir])
  t.equal(r.code, 1)
  t.equal(r.stderr.trim(), `apm-collector: port ${port} on 127.0.0.1 is already in use; stop the other process or choose another with --port`)
})

t.test('an unwritable data directory ends with a clear error', async (t) => {
  const dir = tempDir()
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  // A path under a regular file cannot be created even by root.
  fs.writeFileSync(path.join(dir, 'file'), 'x')
  const r = await runCommand(['--port', '0', '--data', path.join(dir, 'file', 'data')])
  t.equal(r.code, 1)
  t.match(r.stderr, /^apm-collector: data directory .*file\/data is not writable \(ENOTDIR\); choose another with --data/)
})

t.test('bad flags are named, with the usage, and exit code 2', async (t) => {
  for (const [args, message] of /** @type {[string[], RegExp][]} */ ([
    [['--prot', '4318'], /Unknown option '--prot'/],
    [['--port', 'abc'], /--port must be an integer from 0 to 65535, got "abc"/],
    [['--port', '70000'], /--port must be an integer from 0 to 65535/],
    [['--retention-days', '0'], /--retention-days must be a positive number, got "0"/],
    [['--port'], /--port/],
    [['report', '--range', '2y'], /--range must be one of 15m, 1h, 6h, 24h, 7d, got "2y"/],
    [['report', '--port', '1'], /Unknown option '--port'/]
  ])) {
    const r = await runCommand(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, message)
    t.match(r.stderr, /Usage:/)
  }
  const version = await runCommand(['--version'])
  t.equal(version.stdout.trim(), require('../package.json').version)
  const help = await runCommand(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /apm-collector report \[--service <name>\]/)
})

t.test('report prints transactions with percentiles and the top error groups, per service', async (t) => {
  const dataDir = tempDir()
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const c = await spawnCollector(['--port', '0', '--data', dataDir])
  t.teardown(() => stop(c.child, 'SIGKILL'))
  const spans = []
  for (let i = 1; i <= 20; i++) spans.push(...o.transaction({ durationMs: i }))
  await o.post(c.url, '/v1/traces', o.traces(spans))
  await o.post(c.url, '/v1/traces', o.traces(o.transaction({ name: 'GET /health', route: '/health' }), { service: 'other' }))
  await o.post(c.url, '/v1/logs', o.logs([o.errorRecord({ timeMs: Date.now() - 1000 }), o.errorRecord({ message: 'again' })]))
  let pending = -1
  for (let i = 0; i < 150 && pending !== 0; i++) {
    pending = (await o.get(c.url + '/api/status')).body.pendingBytes
    if (pending) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(pending, 0, 'everything stored')
  // the report reads the store while the collector is running
  const all = await runCommand(['report', '--data', dataDir])
  t.equal(all.code, 0, all.stderr)
  t.match(all.stdout, /== other \(test\)/)
  t.match(all.stdout, /== shop \(test\) — last 24h: 20 transactions/)
  t.match(all.stdout, /name\s+count\s+tpm\s+avg\s+p50\s+p95\s+p99\s+errors/)
  t.match(all.stdout, /GET \/users\/:id\s+20\s+\S+\s+10\.5 ms\s+10\.0 ms\s+19\.0 ms\s+20\.0 ms\s+0\.0 %/)
  t.match(all.stdout, /Top error groups/)
  t.match(all.stdout, /\s+2\s+TypeError: again\s+loadUser \(routes\/users\.js\)\s+1\.0\.0/)
  const one = await runCommand(['report', '--data', dataDir, '--service', 'other'])
  t.notMatch(one.stdout, /== shop/)
  t.match(one.stdout, /GET \/health/)
  t.match((await runCommand(['report', '--data', dataDir, '--service', 'nope'])).stdout, /No data for service nope/)
})

t.test('report without data says where it looked', async (t) => {
  const dir = tempDir()
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const r = await runCommand(['report', '--data', path.join(dir, 'none')])
  t.equal(r.code, 1)
  t.match(r.stderr, /no collector data at .*none \(run apm-collector first, or pass --data\)/)
})
