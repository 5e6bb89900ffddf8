// Hostile input: whatever the app hands the agent or the instrumented functions, it sees exactly what it would see
// without the agent; the agent truncates, caps and counts, with bounded memory.
import t from 'tap'
import { startCollector } from '../faults/collector'
import { balanced } from '../faults/app'
import { runFixture } from '../helpers/child'

t.test('hostile values, never-ended spans, a million transaction names and bad http options', async (t) => {
  const collector = await startCollector()
  t.teardown(() => collector.stop())
  const [withAgent, without] = await Promise.all([
    runFixture('fault-hostile.js', { nodeArgs: ['--expose-gc'], env: { APM_SERVER_URL: collector.url, APM_FLUSH_INTERVAL_MS: '50' }, timeoutMs: 90_000 }),
    runFixture('fault-hostile.js', { nodeArgs: ['--expose-gc'], env: { WITHOUT_AGENT: '1' }, timeoutMs: 90_000 })
  ])
  t.equal(withAgent.code, 0, withAgent.stderr)
  t.equal(without.code, 0, without.stderr)
  const [transcript, agentLine] = withAgent.stdout.trim().split('\n')
  const [plainTranscript] = without.stdout.trim().split('\n')
  t.same(JSON.parse(transcript!), JSON.parse(plainTranscript!), 'the app observes exactly the same results and errors')
  t.notMatch(withAgent.stderr, /TypeError|RangeError|Maximum call stack|uncaught|Unhandled/i, 'the agent logged no failure of its own')

  const { stats, heapGrowth } = JSON.parse(agentLine!)
  t.ok(balanced(stats), 'the books balance') || t.comment(stats)
  t.ok(stats.produced > 1e6, `${stats.produced} events produced`)
  t.ok(stats.droppedByReason.queue_full > 0, `${stats.droppedByReason.queue_full} dropped as queue_full, counted`)
  t.ok(heapGrowth < 24 * 1024 * 1024, `heap after GC grew ${(heapGrowth / 1048576).toFixed(1)} MB after a million distinct names and 100,000 never-ended spans`)

  t.comment(`heap growth ${(heapGrowth / 1048576).toFixed(1)} MB; ${stats.produced} produced, ${stats.delivered} delivered, ${stats.dropped} dropped (${JSON.stringify(stats.droppedByReason)})`)
  t.equal(stats.droppedByReason.too_large, 0, 'no event was too large to send')

  // What went out is bounded.
  const attrs = collector.exchanges.flatMap((e) => e.spans > 0 ? JSON.parse(e.text).resourceSpans[0].scopeSpans[0].spans : []).find((s: any) => s.name === 'attrs')
  t.ok(attrs, 'the span with huge attributes was exported')
  const values = Object.fromEntries(attrs.attributes.map((a: any) => [a.key, a.value]))
  t.equal(values['app.big_string'].stringValue.length, 8192, 'a 1 MB string attribute is cut to 8 KiB')
  t.ok(JSON.stringify(values['app.big_array']).length <= 64 * 1024, `a 10 MB array attribute is bounded (${JSON.stringify(values['app.big_array']).length} bytes)`)
  const biggest = Math.max(...collector.exchanges.map((e) => e.text.length))
  t.ok(biggest < 4 * 1024 * 1024 + 4096, `no request over the 4 MiB limit (largest ${biggest} bytes)`)
  const errors = collector.exchanges.flatMap((e) => e.logs > 0 ? JSON.parse(e.text).resourceLogs[0].scopeLogs[0].logRecords : [])
  t.ok(errors.length >= 20, `${errors.length} errors captured`)
  const longest = Math.max(...errors.map((l: any) => JSON.stringify(l).length))
  t.ok(longest < 64 * 1024, `the largest error record is ${longest} bytes (10 MB message and string truncated)`)
})
