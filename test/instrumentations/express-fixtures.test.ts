import t from 'tap'
import { join } from 'node:path'
import { startReceiver } from '../helpers/receiver'
import { startServerFixture, ROOT } from '../helpers/child'
import { explicitScenarios, expressScenarios } from './express-scenarios'

// Every express scenario in a child process: CommonJS under `-r apm/start`, ES module under `--import apm/start`
// (`import express from 'express'` reaching the ESM hook), for express 5 (root) and express 4 (its workspace).
const FIXTURES = [
  { label: 'express 5, CommonJS, -r apm/start', file: join(ROOT, 'test', 'fixtures', 'express-app.cjs'), nodeArgs: ['-r', 'apm/start'] },
  { label: 'express 5, ES module, --import apm/start', file: join(ROOT, 'test', 'fixtures', 'express-app.mjs'), nodeArgs: ['--import', 'apm/start'] },
  { label: 'express 5, ES module, -r apm/start (the preload registers the ESM hook too)', file: join(ROOT, 'test', 'fixtures', 'express-app.mjs'), nodeArgs: ['-r', 'apm/start'] },
  { label: 'express 4, CommonJS, -r apm/start', file: join(ROOT, 'test', 'versions', 'express4', 'express-app.cjs'), nodeArgs: ['-r', 'apm/start'] },
  { label: 'express 4, ES module, --import apm/start', file: join(ROOT, 'test', 'versions', 'express4', 'express-app.mjs'), nodeArgs: ['--import', 'apm/start'] }
]

for (const { label, file, nodeArgs } of FIXTURES) {
  t.test(label, async (t) => {
    const receiver = await startReceiver()
    t.teardown(() => receiver.close())
    const { child, port, output } = await startServerFixture(file, {
      nodeArgs,
      env: { APM_SERVER_URL: receiver.url, APM_FLUSH_INTERVAL_MS: '50', APM_LOG_LEVEL: 'warn', NODE_ENV: 'test' }
    })
    t.teardown(() => { child.kill() })
    expressScenarios(t, receiver, port)
    t.test('the agent logged no warning', async (t) => {
      t.notMatch(output(), /apm (warn|error)/)
    })
  })
}

// Half of them with http disabled too: the middleware then starts and ends each request's transaction itself.
for (const [i, { label, file, nodeArgs }] of FIXTURES.entries()) {
  const disabled = i % 2 === 0 ? 'express' : 'express,http'
  t.test(`${label}: app.use(agent.middleware.express()) with ${disabled} auto-instrumentation disabled`, async (t) => {
    const receiver = await startReceiver()
    t.teardown(() => receiver.close())
    const { child, port } = await startServerFixture(file, {
      nodeArgs,
      env: { APM_SERVER_URL: receiver.url, APM_FLUSH_INTERVAL_MS: '50', APM_LOG_LEVEL: 'warn', NODE_ENV: 'test', APM_TEST_EXPLICIT: '1', APM_DISABLE_INSTRUMENTATIONS: disabled }
    })
    t.teardown(() => { child.kill() })
    explicitScenarios(t, receiver, port, { route: ['/api/v2/items/abc', 'GET /api/v2/items/:itemId'], error: '/err/next' })
  })
}
