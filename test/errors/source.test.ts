// Tests for lib/errors/source.ts: source context, our VLQ decoder against Node's own SourceMap, .ts frames from tsc output, caches.
import t from 'tap'
import type { Test } from 'tap'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { SourceMap as NodeSourceMap } from 'node:module'
import {
  enrichFrames, decodeMappings, parseSourceMap, originalPosition, nodeSourceMapsEnabled, clearSourceCaches, sourceCacheStats
} from '../../lib/errors/source'
import { parseStack } from '../../lib/errors/stack'
import type { StackFrame } from '../../lib/errors/stack'
import { buildTsApp, repoRoot, fixtureDir, runNode } from '../fixtures/errors/build'
import type { BuiltApp } from '../fixtures/errors/build'

const bugsTs = path.join(fixtureDir, 'bugs.ts')

function lineOf (file: string, mark: string): number {
  const lines = readFileSync(file, 'utf8').split('\n')
  const at = lines.findIndex((l) => l.includes(mark))
  if (at === -1) throw new Error('mark not found: ' + mark)
  return at + 1
}

function tempDir (t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'apm-source-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Runs the compiled fixture: it raises a bug and prints toErrorEvent + enrichFrames output. */
async function stackFrom (app: string, which: string, ...nodeArgs: string[]): Promise<any> {
  const { stdout } = await runNode([...nodeArgs, app, which, repoRoot])
  return JSON.parse(stdout)
}

// One tsc build of each kind for the whole file (tsc takes seconds).
const builds = new Map<string, Promise<BuiltApp>>()
function build (kind: 'file' | 'inline'): Promise<BuiltApp> {
  let b = builds.get(kind)
  if (b === undefined) {
    b = buildTsApp({ inline: kind === 'inline' })
    builds.set(kind, b)
  }
  return b
}
t.teardown(async () => {
  for (const b of builds.values()) (await b).cleanup()
})

t.test('source context: up to 5 lines around the frame line, fewer at the edges, long lines clipped', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'ctx.js')
  writeFileSync(file, ['l1', 'l2', 'l3', 'l4', 'l5', 'l6', 'x'.repeat(2000)].join('\n'))
  const frames = parseStack(`Error\n    at a (${file}:4:1)\n    at b (${file}:1:1)\n    at c (${file}:7:1)\n    at d (${file}:99:1)`, { appRoot: dir })
  await enrichFrames(frames)
  t.match(frames[0], { preContext: ['l2', 'l3'], contextLine: 'l4', postContext: ['l5', 'l6'] })
  t.match(frames[1], { preContext: [], contextLine: 'l1', postContext: ['l2', 'l3'] })
  t.equal(frames[2].contextLine?.length, 500)
  t.same(frames[2].postContext, [])
  t.notOk('contextLine' in frames[3], 'a line past the end gets no context')
})

t.test('only application frames are read; library, native and missing files are left alone', async (t) => {
  const dir = tempDir(t)
  const lib = path.join(dir, 'node_modules', 'x', 'i.js')
  const frames = parseStack(`Error\n    at a (${lib}:1:1)\n    at b (node:fs:1:1)\n    at c (${path.join(dir, 'missing.js')}:1:1)\n    at Array.map (<anonymous>)`, { appRoot: dir })
  await enrichFrames(frames)
  for (const f of frames) t.notOk('contextLine' in f)
})

t.test('files over 1 MB get no context', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'big.js')
  writeFileSync(file, 'const a = 1\n' + '// filler\n'.repeat(120000))
  const frames = parseStack(`Error\n    at a (${file}:1:1)`, { appRoot: dir })
  await enrichFrames(frames)
  t.notOk('contextLine' in frames[0])
})

t.test('enrichFrames never rejects, whatever it is given', async (t) => {
  await t.resolves(enrichFrames(null as any))
  await t.resolves(enrichFrames([null, undefined, 42, { absPath: {}, line: 'x', inApp: true }] as any))
  await t.resolves(enrichFrames([{ absPath: '/dev/null', line: 1, column: 1, inApp: true } as StackFrame]))
  await t.resolves(enrichFrames([{ absPath: tmpdir(), line: 1, column: 1, inApp: true } as StackFrame]), 'a directory')
})

t.test('the VLQ decoder agrees with Node\'s own SourceMap on every position of a tsc map', async (t) => {
  const built = await build('file')
  for (const name of ['bugs.js', 'app.js']) {
    const generated = path.join(built.appDir, name)
    const mapPath = generated + '.map'
    const json = readFileSync(mapPath, 'utf8')
    const ours = await parseSourceMap(json, mapPath)
    t.ok(ours, 'parsed')
    if (ours === null) continue
    const node = new NodeSourceMap(JSON.parse(json))
    const lines = readFileSync(generated, 'utf8').split('\n')
    let compared = 0
    for (let l = 0; l < lines.length; l++) {
      for (let c = 0; c < lines[l].length; c++) {
        const theirs: any = node.findEntry(l, c)
        const mine = originalPosition(ours, l + 1, c + 1)
        if (theirs.originalSource === undefined) continue
        compared++
        if (mine === null || mine.line !== theirs.originalLine + 1 || mine.column !== theirs.originalColumn + 1) {
          t.fail(`${name} ${l + 1}:${c + 1}: ours ${JSON.stringify(mine)}, node ${JSON.stringify(theirs)}`)
          return
        }
      }
    }
    t.ok(compared > 100, `${name}: ${compared} positions agree`)
  }
})

t.test('decodeMappings handles 1-, 4- and 5-field segments and rejects malformed input', async (t) => {
  // AAAA: 0,0,0,0; ;: next line; ACAC: gen+0 src+1 line+0 col+1; A: a 1-field segment (unmapped); gCAAG: col +32 …
  const d = await decodeMappings('AAAA;ACAC,E;gCAAGA')  // E: +2
  t.ok(d)
  if (d === null) return
  t.same(Array.from(d.lineStarts), [0, 1, 3])
  t.same(Array.from(d.segments), [0, 0, 0, 0, 0, 1, 0, 1, 2, -1, 0, 0, 32, 1, 0, 4])
  t.equal(await decodeMappings('AA'), null, 'two fields')
  t.equal(await decodeMappings('A$AA'), null, 'not base64')
  t.equal(await decodeMappings('g'), null, 'unterminated VLQ')
  t.equal(await decodeMappings('gggggggggggA'), null, 'overlong VLQ')
  t.same(Array.from((await decodeMappings(''))?.lineStarts ?? []), [0])
  t.equal(await parseSourceMap('not json', '/x.map'), null)
  t.equal(await parseSourceMap('{"version":2,"mappings":"","sources":[]}', '/x.map'), null)
  t.equal(await parseSourceMap('{"version":3,"sections":[]}', '/x.map'), null, 'index maps are not supported')
})

t.test('decoding a multi-megabyte mappings string yields to the event loop along the way', async (t) => {
  const mappings = 'AACA,CAAC,EAAE,GAAG,IAAI,KAAK;'.repeat(100000) // 3 MB, 600,000 segments
  let ticks = 0
  const tick = (): void => {
    ticks++
    timer = setImmediate(tick)
  }
  let timer = setImmediate(tick)
  const decoded = await decodeMappings(mappings)
  clearImmediate(timer)
  t.equal(decoded?.segmentCount, 600000)
  t.equal(decoded?.lineStarts.length, 100001)
  t.ok(ticks >= 10, `the event loop turned ${ticks} times during decoding`)
})

t.test('originalPosition: the segment at or before the column, null for unmapped places', async (t) => {
  // Line 1: col 0 → 1:0, col 4 → 1:4, col 6 unmapped; line 2 empty; line 3: col 5 → 2:4.
  const map = await parseSourceMap(JSON.stringify({ version: 3, sources: ['a.ts'], sourceRoot: 'src', mappings: 'AAAA,IAAI,E;;KACA' }), '/out/a.js.map')
  t.ok(map)
  if (map === null) return
  t.same(originalPosition(map, 1, 1), { source: '/out/src/a.ts', sourceIndex: 0, line: 1, column: 1 })
  t.same(originalPosition(map, 1, 4), { source: '/out/src/a.ts', sourceIndex: 0, line: 1, column: 1 })
  t.same(originalPosition(map, 1, 5)?.column, 5)
  t.equal(originalPosition(map, 1, 10), null, 'after a 1-field (unmapped) segment')
  t.equal(originalPosition(map, 2, 1), null, 'an empty line after an unmapped segment')
  t.equal(originalPosition(map, 3, 1), null, 'before the first segment of the line, after an unmapped one')
  t.match(originalPosition(map, 3, 6), { line: 2, column: 5 })
  t.match(originalPosition(map, 4, 1), { line: 2, column: 5 }, 'past the last line: the last segment, as Node does')
  const dense = await parseSourceMap(JSON.stringify({ version: 3, sources: ['a.ts'], mappings: 'AAAA,IAAI;;EACA' }), '/out/a.js.map')
  t.match(dense && originalPosition(dense, 2, 1), { line: 1, column: 5 }, 'an empty line maps like the previous segment')
  t.match(dense && originalPosition(dense, 3, 1), { line: 1, column: 5 }, 'before the first segment: the previous line\'s last')
  t.equal(originalPosition(map, 0, 1), null)
})

t.test('a frame in tsc output with the .map next to it is moved to the .ts file and line, with .ts context', async (t) => {
  clearSourceCaches()
  const built = await build('file')
  const out = await stackFrom(built.app, 'checkout')
  t.equal(out.nodeSourceMaps, false, 'plain node: Node does not map stacks')
  // What the app itself produced in the child (toErrorEvent + enrichFrames there).
  const expected = lineOf(bugsTs, 'MARK: price-bug')
  t.match(out.event.frames[0], { function: 'totalOf', file: 'test/fixtures/errors/ts-app/bugs.ts', line: expected, inApp: true })
  t.match(out.event.frames[0].generated, { absPath: path.join(built.appDir, 'bugs.js') })
  t.match(out.event.frames[0].contextLine, /MARK: price-bug/)
  t.match(out.event.frames[1], { function: 'checkoutRoute', file: 'test/fixtures/errors/ts-app/app.ts' })
  // The same in this process, from the stack text alone.
  const frames = parseStack(out.event.stacktrace, { appRoot: repoRoot })
  t.match(frames[0], { absPath: path.join(built.appDir, 'bugs.js') })
  await enrichFrames(frames, { appRoot: repoRoot })
  t.match(frames[0], { file: 'test/fixtures/errors/ts-app/bugs.ts', line: expected, contextLine: /MARK: price-bug/ })
  // Enriching again does not move the frame a second time.
  const once = { ...frames[0] }
  await enrichFrames(frames, { appRoot: repoRoot })
  t.same(frames[0], once)
  // And sourceMaps: false leaves the generated position.
  const raw = parseStack(out.event.stacktrace, { appRoot: repoRoot })
  await enrichFrames(raw, { sourceMaps: false })
  t.match(raw[0], { absPath: path.join(built.appDir, 'bugs.js'), generated: undefined })
  t.match(raw[0].contextLine, /throw new TypeError/)
})

t.test('an inline data: URL source map works the same', async (t) => {
  clearSourceCaches()
  const built = await build('inline')
  const out = await stackFrom(built.app, 'quantity')
  t.match(out.event.frames[0], { function: 'checkQuantity', file: 'test/fixtures/errors/ts-app/bugs.ts', line: lineOf(bugsTs, 'MARK: quantity-bug') })
})

t.test('with --enable-source-maps Node maps the frames and they are not remapped a second time', async (t) => {
  const built = await build('file')
  const out = await stackFrom(built.app, 'quantity', '--enable-source-maps')
  t.equal(out.nodeSourceMaps, true)
  const top = out.event.frames[0]
  t.match(top, { function: 'checkQuantity', file: 'test/fixtures/errors/ts-app/bugs.ts', line: lineOf(bugsTs, 'MARK: quantity-bug') })
  t.equal(top.generated, undefined, 'not moved by us')
  t.match(top.contextLine, /MARK: quantity-bug/)
  t.match(out.event.stacktrace, /bugs\.ts:\d+:\d+\)/, 'the stack text shows .ts positions')
  // Turned on from code rather than the command line, too.
  const viaEnv = await runNode([built.app, 'quantity', repoRoot], { nodeOptions: '--enable-source-maps' })
  const parsed = JSON.parse(viaEnv.stdout)
  t.equal(parsed.nodeSourceMaps, true)
  t.match(parsed.event.frames[0], { line: lineOf(bugsTs, 'MARK: quantity-bug'), generated: undefined })
})

t.test('nodeSourceMapsEnabled reflects this process (tap runs tests with source maps on)', async (t) => {
  t.equal(nodeSourceMapsEnabled(), true)
})

t.test('no synchronous I/O after startup (node --trace-sync-io)', async (t) => {
  const built = await build('file')
  clearSourceCaches()
  const { stderr } = await runNode(['--trace-sync-io', built.app, 'checkout', repoRoot])
  // Each warning is followed by the stack that did it; none may come from lib/errors.
  const warnings = stderr.split('WARNING: Detected use of sync API').slice(1)
  t.notOk(warnings.some((w) => w.includes('lib/errors')), warnings.join('\n---\n').slice(0, 4000))
})

t.test('caches stay bounded in files and bytes', async (t) => {
  clearSourceCaches()
  const dir = tempDir(t)
  const frames: StackFrame[] = []
  for (let k = 0; k < 260; k++) {
    const file = path.join(dir, `f${k}.js`)
    writeFileSync(file, `// file ${k}\n` + 'x'.repeat(100 * 1024))
    frames.push(...parseStack(`Error\n    at f (${file}:1:1)`, { appRoot: dir }))
  }
  await enrichFrames(frames)
  t.ok(frames.every((f) => f.contextLine !== undefined), 'all got context')
  const stats = sourceCacheStats()
  t.ok(stats.files <= 200, `${stats.files} files cached`)
  t.ok(stats.fileBytes <= 16 * 1024 * 1024, `${stats.fileBytes} bytes cached`)
})
