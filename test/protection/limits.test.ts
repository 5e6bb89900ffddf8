// Limits (documented defaults, configurable): attributes per span, value length, spans per transaction, stack frames.
import t, { type Test } from 'tap'
import { startCollector } from '../faults/collector'
import { runFixture } from '../helpers/child'
import { startPostgres } from '../helpers/postgres'

async function run (t: Test, env: Record<string, string> = {}): Promise<{ spans: any[], logs: any[] }> {
  const collector = await startCollector()
  t.teardown(() => collector.stop())
  const r = await runFixture('fault-limits.js', { env: { APM_SERVER_URL: collector.url, ...env } })
  t.equal(r.code, 0, r.stderr)
  const spans = collector.exchanges.flatMap((e) => e.spans > 0 ? JSON.parse(e.text).resourceSpans[0].scopeSpans[0].spans : [])
  const logs = collector.exchanges.flatMap((e) => e.logs > 0 ? JSON.parse(e.text).resourceLogs[0].scopeLogs[0].logRecords : [])
  return { spans, logs }
}

const appAttributes = (span: any): any[] => span.attributes.filter((a: any) => a.key.startsWith('app.'))
const attribute = (item: any, key: string): any => item.attributes.find((a: any) => a.key === key)?.value

t.test('defaults: 128 attributes per span, values ≤ 8 KiB, 500 spans per transaction, 50 stack frames', async (t) => {
  const { spans, logs } = await run(t)
  const wide = spans.find((s) => s.name === 'wide')
  t.equal(appAttributes(wide).length, 128, '128 attributes kept')
  t.equal(wide.droppedAttributesCount, 72, 'the other 72 counted')
  t.equal(attribute(wide, 'app.attr_000').stringValue.length, 8192, 'a 20,000-character value cut to 8192')
  const tx = spans.find((s) => s.name === 'limits')
  const children = spans.filter((s) => s.name.startsWith('child '))
  // 'wide' is the first of the 501 spans started; 500 fit.
  t.equal(children.length + 1, 500, '500 spans recorded')
  t.equal(Number(attribute(tx, 'apm.spans.dropped').intValue), 101, 'the rest counted on the transaction')
  const [error] = logs
  const stack: string = attribute(error, 'exception.stacktrace').stringValue
  const frames = stack.split('\n').filter((l) => /^\s+at /.test(l))
  t.ok(frames.length <= 50 && frames.length >= 40, `a 100-deep stack kept at ${frames.length} frames`)
})

t.test('the limits are configurable', async (t) => {
  const { spans } = await run(t, { APM_MAX_ATTRIBUTES: '10', APM_MAX_ATTRIBUTE_LENGTH: '100', APM_MAX_SPANS_PER_TRANSACTION: '5' })
  const wide = spans.find((s) => s.name === 'wide')
  t.equal(appAttributes(wide).length, 10)
  t.equal(wide.droppedAttributesCount, 190)
  t.equal(attribute(wide, 'app.attr_000').stringValue.length, 100)
  t.equal(spans.filter((s) => s.name.startsWith('child ')).length, 4)
  t.equal(Number(attribute(spans.find((s) => s.name === 'limits'), 'apm.spans.dropped').intValue), 596)
})

t.test('SQL statement text is cut at 10,000 characters, and never beyond the attribute value limit', async (t) => {
  const db = await startPostgres()
  t.teardown(() => db.stop())
  // db.query.text is an attribute value too: with the default 8 KiB value limit that limit is the one that bites.
  for (const [maxAttributeLength, expected] of [[undefined, 8192], ['20000', 10_000]] as const) {
    const { spans } = await run(t, { PG_URL: db.url, ...(maxAttributeLength === undefined ? {} : { APM_MAX_ATTRIBUTE_LENGTH: maxAttributeLength }) })
    const query = spans.find((s) => s.kind === 3 && attribute(s, 'db.query.text') !== undefined)
    t.ok(query, 'the query span arrived')
    const text: string = attribute(query, 'db.query.text').stringValue
    t.equal(text.length, expected, `maxAttributeLength ${maxAttributeLength ?? 'default'}: a 38,000-character statement is recorded as its first ${expected} characters`)
    t.ok(text.startsWith('SELECT ? AS a_rather_long_column_alias_0000, ? AS'))
  }
})
