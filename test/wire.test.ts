import t from 'tap'
import { startReceiver } from './helpers/receiver'
import agent from 'apm'

t.test('the wire format is OTLP/HTTP JSON, gzipped, batched', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const before = process.env.OTEL_RESOURCE_ATTRIBUTES
  process.env.OTEL_RESOURCE_ATTRIBUTES = 'team=payments,cloud.region=eu-west-1'
  process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=acme'
  t.teardown(() => {
    if (before === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES
    delete process.env.OTEL_EXPORTER_OTLP_HEADERS
  })
  agent.start({
    serviceName: 'wire',
    serviceVersion: '1.2.3',
    environment: 'staging',
    serverUrl: receiver.url,
    secretToken: 'tok-123',
    flushIntervalMs: 200,
    logLevel: 'warn'
  })
  t.teardown(() => agent.shutdown())

  // 300 transactions in one burst must travel in few requests.
  for (let i = 0; i < 300; i++) {
    agent.beginTransaction('batch-' + i, 'job')
    agent.endTransaction()
  }
  await agent.flush()
  const spans = await receiver.waitForSpans(300, (s) => s.name.startsWith('batch-'))
  const requests = receiver.requests.filter((r) => r.path === '/v1/traces')
  t.ok(requests.length <= 3, `300 transactions in ${requests.length} request(s)`)

  const req = requests[0]!
  t.equal(req.method, 'POST')
  t.equal(req.headers['content-type'], 'application/json')
  t.equal(req.headers['content-encoding'], 'gzip')
  t.equal(req.headers.authorization, 'Bearer tok-123')
  t.equal(req.headers['x-tenant'], 'acme', 'OTEL_EXPORTER_OTLP_HEADERS are sent')
  t.match(req.headers['user-agent'], /^apm-node\//)
  t.equal(req.headers.traceparent, undefined, 'export requests carry no trace context')

  const span = spans[0]!
  t.match(span.resource, {
    'service.name': 'wire',
    'service.version': '1.2.3',
    'deployment.environment.name': 'staging',
    'process.pid': process.pid,
    'process.runtime.name': 'nodejs',
    'process.runtime.version': process.versions.node,
    'telemetry.sdk.name': 'apm',
    'telemetry.sdk.language': 'nodejs',
    team: 'payments',
    'cloud.region': 'eu-west-1'
  })
  t.match(span.resource['service.instance.id'], /^[0-9a-f-]{36}$/)
  t.type(span.resource['host.name'], 'string')
  t.type(span.resource['telemetry.sdk.version'], 'string')
  t.same(span.scope.name, 'apm')

  // Raw JSON shapes: lowercase hex ids, nanosecond strings, integer enums.
  const raw = span.raw
  t.match(raw.traceId, /^[0-9a-f]{32}$/)
  t.match(raw.spanId, /^[0-9a-f]{16}$/)
  t.match(raw.startTimeUnixNano, /^\d{19}$/)
  t.match(raw.endTimeUnixNano, /^\d{19}$/)
  t.type(raw.kind, 'number')
  t.type(raw.status.code, 'number')
  const now = BigInt(Date.now()) * 1_000_000n
  t.ok(span.start <= now && span.start > now - 60_000_000_000n, 'times are unix nanoseconds')
  t.ok(span.end >= span.start)
  t.ok(req.body.resourceSpans[0].scopeSpans[0].spans.length > 0, 'the body was gzip-compressed JSON')
})
