import t from 'tap'
import { spawn } from 'node:child_process'
import { instrumentations } from '../instrumentations/index'
import { startReceiver } from './helpers/receiver'
import { startPostgres } from './helpers/postgres'
import { ROOT } from './helpers/child'

const CLIENT = 3

// Printed by the child apps below: which of apm's files and dependencies are loaded, and which builtins.
const REPORT = `
function loaded () {
  const files = Object.keys(require.cache)
  const apm = (dir) => files.filter((f) => f.includes('/dist/' + dir + '/')).map((f) => f.slice(f.lastIndexOf('/dist/') + 6)).sort()
  return {
    instrumentations: apm('instrumentations'),
    lib: apm('lib'),
    packages: [...new Set(files.map((f) => /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(f)?.[1]).filter(Boolean))].sort(),
    builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13))
  }
}
`

interface Loaded { instrumentations: string[], lib: string[], packages: string[], builtins: string[] }

// `node [nodeArgs] -e code` from the repo root (so `apm/start` and the devDependencies resolve), with an environment
// free of the parent's apm/OTel/tap settings.
function runNode (nodeArgs: string[], code: string, env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('APM_') || k.startsWith('OTEL_') || k === 'NODE_OPTIONS' || k.startsWith('TAP')) continue
    childEnv[k] = v
  }
  const child = spawn(process.execPath, [...nodeArgs, '-e', code], { cwd: ROOT, env: { ...childEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c) => { stdout += c })
  child.stderr.on('data', (c) => { stderr += c })
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

t.test('the registry declares exactly the targets (module, range, covers) its instrumentation files patch', async (t) => {
  for (const entry of instrumentations) {
    const inst = entry.load()
    t.equal(inst.id, entry.id, `${entry.id}: id`)
    t.same(inst.targets.map(({ module, versions, covers }) => ({ module, versions, covers })),
      entry.targets.map(({ module, versions, covers }) => ({ module, versions, covers })), `${entry.id}: targets`)
  }
})

t.test('an app that never requires pg, express or koa never loads their instrumentations; requiring express later still names its transactions', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const run = await runNode(['-r', 'apm/start'], REPORT + `
    const http = require('node:http')
    const before = loaded()
    const express = require('express')
    const app = express()
    app.get('/users/:id', (req, res) => res.send('ok'))
    const server = app.listen(0, '127.0.0.1', () => {
      http.get({ host: '127.0.0.1', port: server.address().port, path: '/users/42' }, (res) => {
        res.resume()
        res.on('end', () => {
          console.log(JSON.stringify({ started: require('apm').isStarted(), status: res.statusCode, before, after: loaded() }))
          server.close()
        })
      })
    })
  `, { APM_SERVER_URL: receiver.url, APM_SERVICE_NAME: 'lazy-express' })
  t.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout) as { started: boolean, status: number, before: Loaded, after: Loaded }
  t.match(out, { started: true, status: 200 })
  // node:http and diagnostics_channel (fetch) are instrumented at start; the rest waits for its module.
  t.same(out.before.instrumentations, ['instrumentations/http.js', 'instrumentations/index.js', 'instrumentations/targets.js', 'instrumentations/undici.js'])
  t.notOk(out.before.packages.includes('express'), 'express is not loaded by apm')
  t.ok(out.after.instrumentations.includes('instrumentations/express.js'), 'express instrumentation loaded with express')
  for (const file of ['instrumentations/pg.js', 'instrumentations/koa.js']) t.notOk(out.after.instrumentations.includes(file), `${file} never loaded`)
  const [tx] = await receiver.waitForSpans(1, (s) => s.resource['service.name'] === 'lazy-express' && s.kind === 2)
  t.equal(tx!.name, 'GET /users/:id')
})

t.test('pg required after start loads its instrumentation then, and its queries are spans', async (t) => {
  const db = await startPostgres()
  t.teardown(() => db.stop())
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const run = await runNode(['-r', 'apm/start'], REPORT + `
    const agent = require('apm')
    const before = loaded()
    const pg = require('pg')
    const after = loaded()
    const client = new pg.Client({ connectionString: process.env.PG_URL })
    const tx = agent.beginTransaction('lazy-pg', 'job')
    client.connect()
      .then(() => client.query('SELECT 1 AS one'))
      .then(() => { agent.endTransaction(); return client.end() })
      .then(() => console.log(JSON.stringify({ traceId: tx.traceId, txId: tx.id, before, after })))
  `, { APM_SERVER_URL: receiver.url, APM_FLUSH_INTERVAL_MS: '50', PG_URL: db.url })
  t.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout) as { traceId: string, txId: string, before: Loaded, after: Loaded }
  t.notOk(out.before.instrumentations.includes('instrumentations/pg.js'), 'not loaded before require(\'pg\')')
  t.ok(out.after.instrumentations.includes('instrumentations/pg.js'), 'loaded by require(\'pg\')')
  const spans = await receiver.waitForSpans(2, (s) => s.kind === CLIENT && s.traceId === out.traceId)
  t.same(spans.map((s) => s.attributes['db.query.text']).filter((x) => x !== undefined), ['SELECT ? AS one'])
  for (const s of spans) t.equal(s.parentSpanId, out.txId)
})

t.test('a disabled instrumentation is never loaded, even when its module is', async (t) => {
  const run = await runNode(['-r', 'apm/start'], REPORT + `
    require('express')
    console.log(JSON.stringify(loaded()))
  `, { APM_DISABLE_INSTRUMENTATIONS: 'express', APM_SERVER_URL: 'http://127.0.0.1:9' })
  t.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout) as Loaded
  t.ok(out.packages.includes('express'))
  t.notOk(out.instrumentations.includes('instrumentations/express.js'))
})

t.test('with active false nothing heavy is loaded: no instrumentations, loader, exporter, hooks, undici or crypto', async (t) => {
  // What node itself loads for `-e` (node:crypto, for one) is not apm's doing.
  const bare = JSON.parse((await runNode([], REPORT + 'console.log(JSON.stringify(loaded()))')).stdout) as Loaded
  const heavy = (out: Loaded, how: string): void => {
    t.same(out.instrumentations, [], `${how}: no instrumentation files`)
    for (const file of ['lib/instrument.js', 'lib/recorder.js', 'lib/export/exporter.js', 'lib/export/transport.js', 'lib/middleware.js', 'lib/error-report.js']) {
      t.notOk(out.lib.includes(file), `${how}: ${file} not loaded`)
    }
    for (const pkg of ['require-in-the-middle', 'import-in-the-middle', 'undici', 'semver', 'debug']) t.notOk(out.packages.includes(pkg), `${how}: ${pkg} not loaded`)
    for (const builtin of ['crypto', 'zlib', 'https', 'tls', 'os', 'perf_hooks']) {
      if (!bare.builtins.includes(builtin)) t.notOk(out.builtins.includes(builtin), `${how}: node:${builtin} not loaded`)
    }
  }
  for (const env of [{ APM_ACTIVE: 'false' }, { OTEL_SDK_DISABLED: 'true' }]) {
    const run = await runNode(['-r', 'apm/start'], REPORT + `
      const agent = require('apm')
      setTimeout(() => console.log(JSON.stringify({ started: agent.isStarted(), active: agent.config.active, loaded: loaded() })), 50)
    `, env)
    t.equal(run.code, 0, run.stderr)
    const out = JSON.parse(run.stdout)
    t.match(out, { started: false, active: false })
    heavy(out.loaded, `-r apm/start ${JSON.stringify(env)}`)
  }
  // ES module preload: not even the loader hook is registered (it would start a loader thread): register() is only
  // called with import-in-the-middle's hook, which is not loaded.
  const esm = await runNode(['--import', 'apm/start', '--input-type=module'], `
    import { createRequire } from 'node:module'
    const require = createRequire(process.cwd() + '/')
    ${REPORT}
    const agent = require('apm')
    console.log(JSON.stringify({ started: agent.isStarted(), active: agent.config.active, loaded: loaded() }))
  `, { APM_ACTIVE: 'false' })
  t.equal(esm.code, 0, esm.stderr)
  const out = JSON.parse(esm.stdout)
  t.match(out, { started: false, active: false })
  heavy(out.loaded, '--import apm/start')
})

t.test('agent.middleware loads the framework instrumentations only when first used', async (t) => {
  const run = await runNode([], REPORT + `
    const agent = require('apm')
    const before = loaded().instrumentations
    const mw = agent.middleware.express()
    console.log(JSON.stringify({ before, after: loaded().instrumentations, same: agent.middleware === agent.middleware, fn: typeof mw }))
  `)
  t.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout)
  t.same(out.before, [])
  t.ok(out.after.includes('instrumentations/express.js'))
  t.match(out, { same: true, fn: 'function' })
})
