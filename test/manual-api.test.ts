import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { startReceiver } from './helpers/receiver'
import agent from 'apm'

t.test('before start() every call is a cheap no-op', async (t) => {
  t.equal(agent.isStarted(), false)
  t.equal(agent.beginTransaction('x', 'job'), null)
  t.equal(agent.startSpan('s', 'app'), null)
  t.equal(agent.currentTransaction, null)
  t.equal(agent.currentSpan, null)
  t.same(agent.currentTraceIds(), {})
  t.equal(agent.setLabel('a', 1), false)
  t.equal(agent.setUser({ id: 1 }), false)
  t.equal(agent.setTransactionName('n'), false)
  t.doesNotThrow(() => agent.captureError(new Error('x')))
  t.doesNotThrow(() => agent.endTransaction())
  await agent.flush()
  await agent.shutdown()
  t.same(agent.stats().produced, 0)
})

t.test('the manual API records jobs', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'manual-api', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn' })
  t.teardown(() => agent.shutdown())

  t.test('a job with nested spans across awaits keeps correct parentage', async (t) => {
    const tx = agent.beginTransaction('nightly-report', 'job')!
    t.ok(tx)
    t.equal(agent.currentTransaction, tx)
    await sleep(5)
    const outer = agent.startSpan('load data', 'db')!
    t.equal(agent.currentSpan, outer)
    await sleep(5)
    const inner = agent.startSpan('parse rows', 'app')!
    await sleep(5)
    inner.end()
    t.equal(agent.currentSpan, outer, 'ending a span restores its parent')
    outer.end()
    t.equal(agent.currentSpan, null)
    const sibling = agent.startSpan('render pdf', 'app')!
    await sleep(2)
    sibling.end()
    agent.setLabel('tenant', 'acme')
    agent.setUser({ id: 7, username: 'ada', email: 'ada@example.com' })
    agent.endTransaction('success')
    t.equal(agent.currentTransaction, null)

    const spans = await receiver.waitForSpans(4, (s) => s.traceId === tx.traceId)
    const by = (name: string) => spans.find((s) => s.name === name)!
    t.equal(by('nightly-report').parentSpanId, undefined)
    t.equal(by('nightly-report').kind, 1, 'INTERNAL')
    t.match(by('nightly-report').attributes, {
      'apm.transaction.type': 'job',
      'apm.transaction.result': 'success',
      'labels.tenant': 'acme',
      'user.id': '7',
      'user.name': 'ada',
      'user.email': 'ada@example.com'
    })
    t.equal(by('load data').parentSpanId, tx.id)
    t.equal(by('parse rows').parentSpanId, by('load data').spanId)
    t.equal(by('render pdf').parentSpanId, tx.id)
    t.equal(by('parse rows').attributes['apm.span.type'], 'app')
  })

  t.test('concurrent transactions in one process never mix', async (t) => {
    const job = async (name: string, steps: number): Promise<string> => {
      const tx = agent.beginTransaction(name, 'job')!
      for (let i = 0; i < steps; i++) {
        const span = agent.startSpan(`${name}-step-${i}`, 'app')!
        await sleep(1 + (i % 3))
        t.equal(agent.currentTransaction, tx, `${name} still current after await`)
        span.end()
      }
      agent.endTransaction()
      return tx.traceId
    }
    const ids = await Promise.all([job('alpha', 6), job('beta', 5), job('gamma', 4)])
    t.equal(new Set(ids).size, 3)
    const spans = await receiver.waitForSpans(18, (s) => ids.includes(s.traceId))
    for (const s of spans) {
      const prefix = s.name.split('-')[0]
      const root = spans.find((r) => r.name === prefix)!
      t.equal(s.traceId, root.traceId, `${s.name} is in its own job's trace`)
      if (s !== root) t.equal(s.parentSpanId, root.spanId)
    }
  })

  t.test('currentTraceIds gives ids for log correlation', async (t) => {
    const tx = agent.beginTransaction('ids', 'job')!
    t.same(agent.currentTraceIds(), { 'trace.id': tx.traceId, 'transaction.id': tx.id })
    const span = agent.startSpan('child', 'app')!
    t.same(agent.currentTraceIds(), { 'trace.id': tx.traceId, 'transaction.id': tx.id, 'span.id': span.id })
    span.end()
    agent.endTransaction()
  })

  t.test('setTransactionName renames the current transaction', async (t) => {
    const tx = agent.beginTransaction('before', 'job')!
    t.equal(agent.setTransactionName('after'), true)
    agent.endTransaction()
    const [s] = await receiver.waitForSpans(1, (s) => s.traceId === tx.traceId)
    t.equal(s!.name, 'after')
  })

  t.test('hostile values passed to the API never throw and are bounded', async (t) => {
    const circular: any = {}
    circular.self = circular
    const tx = agent.beginTransaction(circular, 42 as any)!
    t.equal(tx.name, 'unnamed')
    t.doesNotThrow(() => agent.setLabel(circular, circular))
    t.doesNotThrow(() => agent.setLabel('big', 'x'.repeat(100_000)))
    t.doesNotThrow(() => agent.setUser(null as any))
    t.doesNotThrow(() => agent.setUser({ get id (): string { throw new Error('getter') } } as any))
    t.doesNotThrow(() => agent.startSpan(undefined, undefined)?.end())
    t.doesNotThrow(() => agent.endTransaction({ weird: true } as any))
    const [s] = await receiver.waitForSpans(1, (s) => s.traceId === tx.traceId && s.kind === 1 && s.parentSpanId === undefined)
    t.ok(String(s!.attributes['labels.big']).length <= 1024)
  })

  t.test('spans beyond maxSpansPerTransaction are counted, not recorded', async (t) => {
    const tx = agent.beginTransaction('many-spans', 'job')!
    for (let i = 0; i < 510; i++) agent.startSpan('s' + i, 'app')?.end()
    agent.endTransaction()
    const [root] = await receiver.waitForSpans(1, (s) => s.traceId === tx.traceId && s.name === 'many-spans')
    t.equal(root!.attributes['apm.spans.dropped'], 10)
    await agent.flush()
    t.equal(receiver.spans().filter((s) => s.traceId === tx.traceId).length, 501)
  })

  t.test('a second start() warns and returns the running agent', async (t) => {
    t.equal(agent.start({ serviceName: 'other' }), agent)
    t.equal(agent.config!.serviceName, 'manual-api')
  })
})
