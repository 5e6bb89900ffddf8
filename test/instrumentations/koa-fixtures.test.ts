import t from 'tap'
import { join } from 'node:path'
import { startReceiver } from '../helpers/receiver'
import { startServerFixture, ROOT } from '../helpers/child'
import { explicitScenarios } from './express-scenarios'
import { koaScenarios } from './koa-scenarios'

// Every koa scenario in a child process: CommonJS under `-r apm/start`, ES module under `--import apm/start`
// (`import Koa from 'koa'` reaching the ESM hook), for koa 3 (root) and koa 2 (its workspace).
const FIXTURES = [
  { label: 'koa 3, CommonJS, -r apm/start', file: join(ROOT, 'test', 'fixtures', 'koa-app.cjs'), nodeArgs: ['-r', 'apm/start'] },
  { label: 'koa 3, ES module, --import apm/start', file: join(ROOT, 'test', 'fixtures', 'koa-app.mjs'), nodeArgs: ['--import', 'apm/start'] },
  { label: 'koa 3, ES module, -r apm/start (the preload registers the ESM hook too)', file: join(ROOT, 'test', 'fixtures', 'koa-app.mjs'), nodeArgs: ['-r', 'apm/start'] },
  { label: 'koa 2, CommonJS, -r apm/start', file: join(ROOT, 'test', 'versions', 'koa2', 'koa-app.cjs'), nodeArgs: ['-r', 'apm/start'] },
  { label: 'koa 2, ES module, --import apm/start', file: join(ROOT, 'test', 'versions', 'koa2', 'koa-app.mjs'), nodeArgs: ['--import', 'apm/start'] }
]

for (const { label, file, nodeArgs } of FIXTURES) {
  t.test(label, async (t) => {
    const receiver = await startReceiver()
    t.teardown(() => receiver.close())
    const { child, port, output } = await startServerFixture(file, {
      nodeArgs,
      env: { APM_SERVER_URL: receiver.url, APM_FLUSH_INTERVAL_MS: '50', APM_LOG_LEVEL: 'warn' }
    })
    t.teardown(() => { child.kill() })
    koaScenarios(t, receiver, port)
    t.test('the agent logged no warning', async (t) => {
      t.notMatch(output(), /apm (warn|error)/)
    })
  })
}

// Half of them with http disabled too: the middleware then starts and ends each request's transaction itself.
for (const [i, { label, file, nodeArgs }] of FIXTURES.entries()) {
  const disabled = i % 2 === 0 ? 'koa' : 'koa,http'
  t.test(`${label}: app.use(agent.middleware.koa()) with ${disabled} auto-instrumentation disabled`, async (t) => {
    const receiver = await startReceiver()
    t.teardown(() => receiver.close())
    const { child, port } = await startServerFixture(file, {
      nodeArgs,
      env: { APM_SERVER_URL: receiver.url, APM_FLUSH_INTERVAL_MS: '50', APM_LOG_LEVEL: 'warn', NODE_ENV: 'test', APM_TEST_EXPLICIT: '1', APM_DISABLE_INSTRUMENTATIONS: disabled }
    })
    t.teardown(() => { child.kill() })
    explicitScenarios(t, receiver, port, { route: ['/shop/items/abc', 'GET /shop/items/:itemId'], error: '/err/async' })
  })
}
