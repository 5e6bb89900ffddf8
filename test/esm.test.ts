import t from 'tap'
import { startReceiver } from './helpers/receiver'
import { runFixture, startServerFixture } from './helpers/child'
import { expressScenarios, request, transactionFor } from './instrumentations/express-scenarios'

// The ways an ES module app can start apm, and what each one gets. (Full express/koa scenarios under
// `--import apm/start` and `-r apm/start` run in test/instrumentations/*-fixtures.test.ts.)
const ENV = { APM_FLUSH_INTERVAL_MS: '50', APM_LOG_LEVEL: 'warn', NODE_ENV: 'test' }

t.test('agent.start() in the first lines of an ES module app, without --import', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const { child, port, output } = await startServerFixture('express-esm-late-start.mjs', { env: { ...ENV, APM_SERVER_URL: receiver.url } })
  t.teardown(() => { child.kill() })

  t.test('a warning names each instrumentable module that was imported before apm started', async (t) => {
    for (const name of ['express', 'koa', 'pg']) {
      t.match(output(), new RegExp(`apm warn: ${name} was loaded before apm started, so it is not instrumented\\. .*--import apm/start`))
    }
  })

  t.test('requests are still transactions (node:http is patched in place), but express does not name them', async (t) => {
    t.equal((await request(port, '/users/42')).status, 200)
    const tx = await transactionFor(receiver, port, '/users/42')
    t.equal(tx.attributes['http.route'], undefined)
    t.not(tx.name, 'GET /users/:id')
  })
})

t.test('agent.start() in the first lines of an ES module app, with app.use(agent.middleware.express())', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const { child, port } = await startServerFixture('express-esm-late-start.mjs', { env: { ...ENV, APM_SERVER_URL: receiver.url, APM_TEST_EXPLICIT: '1' } })
  t.teardown(() => { child.kill() })
  expressScenarios(t, receiver, port)
})

t.test('apm started by the first import of an ES module app, without --import: a warning names express', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const { child, output } = await startServerFixture('express-esm-start-module.mjs', { env: { ...ENV, APM_SERVER_URL: receiver.url } })
  t.teardown(() => { child.kill() })
  // Either at start (already loaded) or by the check two seconds later (loaded without passing the hooks).
  const deadline = Date.now() + 5000
  while (!/apm warn: express was loaded/.test(output()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  t.match(output(), /apm warn: express was loaded (before apm started|without passing apm's module hooks), so it is not instrumented/)
})

t.test('--import apm/start also instruments a CommonJS app', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const { child, port, output } = await startServerFixture('express-app.cjs', { nodeArgs: ['--import', 'apm/start'], env: { ...ENV, APM_SERVER_URL: receiver.url } })
  t.teardown(() => { child.kill() })
  t.equal((await request(port, '/api/v2/items/1')).status, 200)
  t.equal((await transactionFor(receiver, port, '/api/v2/items/1')).name, 'GET /api/v2/items/:itemId')
  t.notMatch(output(), /apm (warn|error)/)
})

t.test('with express disabled, --import apm/start leaves express alone and says nothing about it', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const { child, port, output } = await startServerFixture('express-app.mjs', { nodeArgs: ['--import', 'apm/start'], env: { ...ENV, APM_SERVER_URL: receiver.url, APM_DISABLE_INSTRUMENTATIONS: 'express' } })
  t.teardown(() => { child.kill() })
  t.equal((await request(port, '/users/1')).status, 200)
  const tx = await transactionFor(receiver, port, '/users/1')
  t.equal(tx.attributes['http.route'], undefined)
  t.notMatch(output(), /apm (warn|error)/)
})

t.test('express both imported and required under --import apm/start is patched once', async (t) => {
  const run = await runFixture('express-esm-import-and-require.mjs', { nodeArgs: ['--import', 'apm/start'], env: { ...ENV, APM_SERVER_URL: 'http://127.0.0.1:9', APM_LOG_LEVEL: 'debug' } })
  t.equal(run.code, 0, run.stderr)
  t.same(JSON.parse(run.stdout), { same: true, router: 'function' })
  const output = run.stdout + run.stderr
  t.equal(output.match(/instrumented express@/g)?.length, 1, output)
})
