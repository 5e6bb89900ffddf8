import t from 'tap'
import { join } from 'node:path'
import { FIXTURES, runFixture } from './helpers/child'

const app = join(FIXTURES, 'named-app', 'app.js')
const run = async (env: Record<string, string | undefined>, options?: unknown) => {
  const r = await runFixture(app, { env: { APM_SERVER_URL: 'http://127.0.0.1:9', ...env }, args: options === undefined ? [] : [JSON.stringify(options)] })
  const config = JSON.parse(r.stdout.trim().split('\n').pop()!)
  return { ...r, config }
}

t.test('defaults: service name and version from the app package.json, local collector', async (t) => {
  const r = await run({})
  t.equal(r.code, 0, r.stderr)
  t.match(r.config, { started: true, recorded: true, serviceName: 'named-app', serviceVersion: '4.5.6', serverUrl: 'http://127.0.0.1:9', flushIntervalMs: 1000, maxQueueSize: 2048, transactionSampleRate: 1 })
})

t.test('options beat the environment, which beats defaults', async (t) => {
  const r = await run({ APM_SERVICE_NAME: 'from-env', APM_FLUSH_INTERVAL_MS: '250', APM_ENVIRONMENT: 'prod' }, { serviceName: 'from-options' })
  t.match(r.config, { serviceName: 'from-options', flushIntervalMs: 250, environment: 'prod' })
})

t.test('OTEL_* variables are understood when APM_* ones are absent', async (t) => {
  const r = await run({ APM_SERVER_URL: undefined, OTEL_SERVICE_NAME: 'otel-name', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4999/otlp/', OTEL_RESOURCE_ATTRIBUTES: 'service.version=9.9.9,deployment.environment.name=qa' })
  t.match(r.config, { serviceName: 'otel-name', serverUrl: 'http://127.0.0.1:4999/otlp', serviceVersion: '9.9.9', environment: 'qa' })
  const both = await run({ OTEL_SERVICE_NAME: 'otel-name', APM_SERVICE_NAME: 'apm-name' })
  t.equal(both.config.serviceName, 'apm-name')
})

t.test('each bad value logs one clear line naming option, value and expectation, and falls back', async (t) => {
  const r = await run({ APM_FLUSH_INTERVAL_MS: 'soon', APM_TRANSACTION_SAMPLE_RATE: '7', APM_SERVER_URL: 'ftp://nope', APM_ACTIVE: 'maybe' }, {
    maxQueueSize: -5,
    logLevel: 'loud',
    serviceName: { not: 'a string' },
    bogusOption: true
  })
  t.equal(r.code, 0, 'the app keeps running')
  t.match(r.config, { started: true, recorded: true, flushIntervalMs: 1000, transactionSampleRate: 1, maxQueueSize: 2048, serverUrl: 'http://127.0.0.1:4318', logLevel: 'info', serviceName: 'named-app' })
  const lines = r.stderr.trim().split('\n')
  const expectLine = (re: RegExp, what: string) => t.equal(lines.filter((l) => re.test(l)).length, 1, what)
  expectLine(/invalid flushIntervalMs "soon" \(from APM_FLUSH_INTERVAL_MS\): expected an integer/, 'flushIntervalMs')
  expectLine(/invalid transactionSampleRate "7" .*expected a value in 0\.\.1/, 'transactionSampleRate')
  expectLine(/invalid serverUrl "ftp:\/\/nope" .*expected an http\(s\) URL/, 'serverUrl')
  expectLine(/invalid active "maybe" .*expected true or false/, 'active')
  expectLine(/invalid maxQueueSize -5 \(from start\(\) options\)/, 'maxQueueSize')
  expectLine(/invalid logLevel "loud"/, 'logLevel')
  expectLine(/invalid serviceName/, 'serviceName')
  expectLine(/unknown option "bogusOption"/, 'unknown option')
})

t.test('active: false makes the agent a no-op', async (t) => {
  const r = await run({}, { active: false })
  t.match(r.config, { started: false, recorded: false, active: false })
  const env = await run({ OTEL_SDK_DISABLED: 'true' })
  t.match(env.config, { started: false, active: false })
})

t.test('a secret token is never echoed in log lines and not sent in clear to a remote host', async (t) => {
  const r = await run({ APM_SECRET_TOKEN: 'tok-very-secret', APM_SERVER_URL: 'http://collector.example:4318', APM_HEADERS: 'x=1,broken' }, { secretToken: 12 })
  t.notMatch(r.stderr, /tok-very-secret/)
  t.match(r.stderr, /secretToken is not sent over plain http to a non-loopback host/)
})
