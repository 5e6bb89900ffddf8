// Source context and source maps for stack frames: lazy async reads, bounded LRU caches, our own VLQ decoder; never rejects.
import { promises as fsp } from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { findSourceMap } from 'node:module'
import { relativeToRoot } from './stack'
import type { StackFrame } from './stack'

export interface EnrichOptions {
  /** Remap frames through source maps found next to (or inline in) their files. Default true. */
  sourceMaps?: boolean
  /** App root, to make mapped source paths relative. Default: frames keep absolute paths. */
  appRoot?: string
  /** Lines of context in total (the frame's line in the middle). Default 5. */
  contextLines?: number
}

const MAX_SOURCE_BYTES = 1024 * 1024
const MAX_MAP_BYTES = 10 * 1024 * 1024
const MAX_CONTEXT_LINE_LENGTH = 500
const TAIL_BYTES = 8192
const DECODE_CHUNK = 64 * 1024

/** A small LRU bounded by entries and by total weight (bytes, roughly). */
class Lru<V> {
  #map = new Map<string, { value: V, weight: number }>()
  #weight = 0
  readonly maxEntries: number
  readonly maxWeight: number

  constructor (maxEntries: number, maxWeight: number) {
    this.maxEntries = maxEntries
    this.maxWeight = maxWeight
  }

  get (key: string): V | undefined {
    const entry = this.#map.get(key)
    if (entry === undefined) return undefined
    this.#map.delete(key)
    this.#map.set(key, entry)
    return entry.value
  }

  has (key: string): boolean {
    return this.#map.has(key)
  }

  set (key: string, value: V, weight: number): void {
    const old = this.#map.get(key)
    if (old !== undefined) {
      this.#weight -= old.weight
      this.#map.delete(key)
    }
    if (weight > this.maxWeight) return
    this.#map.set(key, { value, weight })
    this.#weight += weight
    while (this.#map.size > this.maxEntries || this.#weight > this.maxWeight) {
      const oldest = this.#map.keys().next()
      if (oldest.done === true) break
      const entry = this.#map.get(oldest.value)
      if (entry !== undefined) this.#weight -= entry.weight
      this.#map.delete(oldest.value)
    }
  }

  clear (): void {
    this.#map.clear()
    this.#weight = 0
  }

  get size (): number {
    return this.#map.size
  }

  get weight (): number {
    return this.#weight
  }
}

// ---------------------------------------------------------------------------------------------
// Source maps

/** A decoded Source Map v3: per generated line, segments [genColumn, sourceIndex (-1: unmapped), origLine, origColumn]. */
export interface SourceMap {
  /** Absolute source paths, or the source string when it is not a file (webpack://…). */
  sources: string[]
  sourcesContent: Array<string | null>
  lineStarts: Int32Array
  segments: Int32Array
  segmentCount: number
}

export interface OriginalPosition {
  source: string
  sourceIndex: number
  /** 1-based, as in stack traces. */
  line: number
  /** 1-based, as in stack traces. */
  column: number
}

const BASE64 = new Int8Array(128).fill(-1)
{
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  for (let k = 0; k < chars.length; k++) BASE64[chars.charCodeAt(k)] = k
}

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Decodes a `mappings` string (Base64 VLQ, fields relative to the previous segment) into flat
 * arrays; yields to the event loop every DECODE_CHUNK characters. Returns null on malformed input.
 */
export async function decodeMappings (mappings: string): Promise<{ lineStarts: Int32Array, segments: Int32Array, segmentCount: number } | null> {
  const n = mappings.length
  // Presized from typical density (a segment takes ~5 chars) so big maps do not grow many times.
  let lineStarts = new Int32Array(64)
  let lines = 1 // line 0 starts at segment 0
  let segments = new Int32Array(Math.max(256, Math.ceil(n / 5) * 4))
  let count = 0
  let genColumn = 0
  let source = 0
  let origLine = 0
  let origColumn = 0
  const fields = new Int32Array(5)
  let i = 0
  let yieldAt = DECODE_CHUNK
  while (i < n) {
    if (i >= yieldAt) {
      yieldAt = i + DECODE_CHUNK
      await nextTick()
    }
    const c = mappings.charCodeAt(i)
    if (c === 59) { // ';' next generated line
      if (lines === lineStarts.length) {
        const grown = new Int32Array(lines * 2)
        grown.set(lineStarts)
        lineStarts = grown
      }
      lineStarts[lines++] = count
      genColumn = 0
      i++
      continue
    }
    if (c === 44) { // ',' between segments
      i++
      continue
    }
    // One segment: 1, 4 or 5 VLQ fields.
    let nf = 0
    while (i < n) {
      const d = mappings.charCodeAt(i)
      if (d === 44 || d === 59) break
      let value = 0
      let shift = 0
      let digit = 32
      while ((digit & 32) !== 0) {
        if (i >= n || shift > 25) return null // unterminated, or more than 32 bits
        const code = mappings.charCodeAt(i++)
        digit = code < 128 ? BASE64[code] : -1
        if (digit === -1) return null
        value |= (digit & 31) << shift
        shift += 5
      }
      // The lowest bit is the sign.
      if (nf < 5) fields[nf] = (value & 1) === 1 ? -(value >>> 1) : value >>> 1
      nf++
    }
    if (nf !== 1 && nf !== 4 && nf !== 5) return null
    genColumn += fields[0]
    let src = -1
    if (nf >= 4) {
      source += fields[1]
      origLine += fields[2]
      origColumn += fields[3]
      src = source
    }
    if (count * 4 + 4 > segments.length) {
      const grown = new Int32Array(segments.length * 2)
      grown.set(segments)
      segments = grown
    }
    const at = count * 4
    segments[at] = genColumn
    segments[at + 1] = src
    segments[at + 2] = src === -1 ? 0 : origLine
    segments[at + 3] = src === -1 ? 0 : origColumn
    count++
  }
  // Copies of the used parts, so the cache does not keep the spare capacity alive.
  return { lineStarts: lineStarts.slice(0, lines), segments: segments.slice(0, count * 4), segmentCount: count }
}

function isUrlLike (s: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]+:/.test(s) && !/^[A-Za-z]:[\\/]/.test(s)
}

/** Parses Source Map v3 JSON; sources are resolved against the map's own location. Null when invalid or an index map. */
export async function parseSourceMap (json: string, mapPath: string): Promise<SourceMap | null> {
  let raw: any
  try {
    raw = JSON.parse(json)
  } catch {
    return null
  }
  if (raw === null || typeof raw !== 'object' || raw.version !== 3 || typeof raw.mappings !== 'string' || !Array.isArray(raw.sources)) return null
  const decoded = await decodeMappings(raw.mappings)
  if (decoded === null) return null
  const dir = path.dirname(mapPath)
  const root = typeof raw.sourceRoot === 'string' ? raw.sourceRoot : ''
  const sources = raw.sources.map((s: unknown) => {
    const name = typeof s === 'string' ? s : ''
    const joined = root === '' ? name : root.endsWith('/') ? root + name : root + '/' + name
    if (joined.startsWith('file://')) {
      try {
        return fileURLToPath(joined)
      } catch {
        return joined
      }
    }
    if (isUrlLike(joined)) return joined
    return path.resolve(dir, joined)
  })
  const contents = Array.isArray(raw.sourcesContent) ? raw.sourcesContent : []
  return {
    sources,
    sourcesContent: sources.map((_: string, k: number) => typeof contents[k] === 'string' ? contents[k] : null),
    lineStarts: decoded.lineStarts,
    segments: decoded.segments,
    segmentCount: decoded.segmentCount
  }
}

/**
 * The original position of a generated 1-based line/column, or null when unmapped. Like Node's
 * own SourceMap#findEntry (so we agree with --enable-source-maps): the last segment at or before
 * the position, which may sit on an earlier line.
 */
export function originalPosition (map: SourceMap, line: number, column: number): OriginalPosition | null {
  const l = line - 1
  if (l < 0 || !Number.isFinite(l)) return null
  const lines = map.lineStarts.length
  const start = l < lines ? map.lineStarts[l] : map.segmentCount
  const end = l + 1 < lines ? map.lineStarts[l + 1] : map.segmentCount
  const col = column - 1
  // The last segment of this line starting at or before the column; else the last one before the line.
  let lo = start
  let hi = end - 1
  let found = start - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (map.segments[mid * 4] <= col) {
      found = mid
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  if (found < 0) return null
  const src = map.segments[found * 4 + 1]
  if (src < 0 || src >= map.sources.length) return null
  return { source: map.sources[src], sourceIndex: src, line: map.segments[found * 4 + 2] + 1, column: map.segments[found * 4 + 3] + 1 }
}

// ---------------------------------------------------------------------------------------------
// Files and caches

interface SourceFile {
  lines: string[] | null
  /** The sourceMappingURL found at its end, if any. */
  mapUrl: string | null
}

const files = new Lru<SourceFile>(200, 16 * 1024 * 1024)
const maps = new Lru<SourceMap | null>(50, 64 * 1024 * 1024)
const inflightFiles = new Map<string, Promise<SourceFile>>()
const inflightMaps = new Map<string, Promise<SourceMap | null>>()
const sourceContentLines = new Lru<string[]>(100, 16 * 1024 * 1024)

/** Empties the caches (tests; or a deploy that replaced files in place). */
export function clearSourceCaches (): void {
  files.clear()
  maps.clear()
  sourceContentLines.clear()
}

/** Cache sizes, for tests and diagnostics. */
export function sourceCacheStats (): { files: number, fileBytes: number, maps: number, mapBytes: number } {
  return { files: files.size, fileBytes: files.weight, maps: maps.size, mapBytes: maps.weight }
}

function findMapUrl (text: string): string | null {
  // The last sourceMappingURL comment, and only when nothing but whitespace follows its line
  // (so a string inside the code that happens to contain one is not taken).
  const at = Math.max(text.lastIndexOf('//# sourceMappingURL='), text.lastIndexOf('//@ sourceMappingURL='))
  if (at === -1) return null
  const start = at + '//# sourceMappingURL='.length
  let end = text.indexOf('\n', start)
  if (end === -1) end = text.length
  if (end < text.length && text.slice(end).trim() !== '') return null
  const url = text.slice(start, end).trim()
  return url === '' ? null : url
}

async function readTail (handle: fsp.FileHandle, size: number): Promise<string> {
  const length = Math.min(TAIL_BYTES, size)
  const buf = Buffer.alloc(length)
  await handle.read(buf, 0, length, size - length)
  return buf.toString('utf8')
}

async function loadFile (absPath: string): Promise<SourceFile> {
  let handle: fsp.FileHandle | undefined
  try {
    handle = await fsp.open(absPath, 'r')
    const { size } = await handle.stat()
    if (size > MAX_SOURCE_BYTES) {
      // Too big for context (bundles), but its source map comment is at the very end.
      const tail = await readTail(handle, size)
      const url = findMapUrl(tail)
      return { lines: null, mapUrl: url !== null && !url.startsWith('data:') ? url : null }
    }
    const text = await handle.readFile('utf8')
    return { lines: text.split(/\r?\n/), mapUrl: findMapUrl(text) }
  } catch {
    return { lines: null, mapUrl: null }
  } finally {
    if (handle !== undefined) await handle.close().catch(() => {})
  }
}

function getFile (absPath: string): Promise<SourceFile> {
  const cached = files.get(absPath)
  if (cached !== undefined) return Promise.resolve(cached)
  let pending = inflightFiles.get(absPath)
  if (pending === undefined) {
    pending = loadFile(absPath).then((file) => {
      let weight = 64
      if (file.lines !== null) for (const line of file.lines) weight += line.length + 8
      files.set(absPath, file, weight)
      return file
    }).finally(() => inflightFiles.delete(absPath))
    inflightFiles.set(absPath, pending)
  }
  return pending
}

function decodeDataUrl (url: string): string | null {
  const comma = url.indexOf(',')
  if (comma === -1) return null
  const meta = url.slice(5, comma)
  if (!meta.startsWith('application/json')) return null
  const data = url.slice(comma + 1)
  try {
    return meta.endsWith(';base64') ? Buffer.from(data, 'base64').toString('utf8') : decodeURIComponent(data)
  } catch {
    return null
  }
}

async function loadMap (generatedPath: string, url: string): Promise<SourceMap | null> {
  try {
    if (url.startsWith('data:')) {
      const json = decodeDataUrl(url)
      return json === null ? null : await parseSourceMap(json, generatedPath)
    }
    let mapPath: string
    if (url.startsWith('file://')) mapPath = fileURLToPath(url)
    else if (isUrlLike(url)) return null // http(s) maps are not fetched
    else mapPath = path.resolve(path.dirname(generatedPath), decodeURI(url))
    const stat = await fsp.stat(mapPath)
    if (!stat.isFile() || stat.size > MAX_MAP_BYTES) return null
    return await parseSourceMap(await fsp.readFile(mapPath, 'utf8'), mapPath)
  } catch {
    return null
  }
}

function getMap (generatedPath: string, url: string): Promise<SourceMap | null> {
  if (maps.has(generatedPath)) return Promise.resolve(maps.get(generatedPath) ?? null)
  let pending = inflightMaps.get(generatedPath)
  if (pending === undefined) {
    pending = loadMap(generatedPath, url).then((map) => {
      const weight = map === null ? 64 : map.segments.byteLength + map.lineStarts.byteLength + 1024
      maps.set(generatedPath, map, weight)
      return map
    }).finally(() => inflightMaps.delete(generatedPath))
    inflightMaps.set(generatedPath, pending)
  }
  return pending
}

/** Whether Node itself rewrites stack traces through source maps (`--enable-source-maps`, `process.setSourceMapsEnabled`). */
export function nodeSourceMapsEnabled (): boolean {
  if ((process as any).sourceMapsEnabled === true) return true
  if (process.execArgv.includes('--enable-source-maps')) return true
  const nodeOptions = process.env.NODE_OPTIONS
  return typeof nodeOptions === 'string' && nodeOptions.includes('--enable-source-maps')
}

/** Whether Node already holds a source map for this file, i.e. its frames were remapped by V8/Node already. */
function mappedByNode (absPath: string): boolean {
  if (!nodeSourceMapsEnabled()) return false
  try {
    if (findSourceMap(absPath) !== undefined) return true
    return findSourceMap(pathToFileURL(absPath).href) !== undefined
  } catch {
    return false
  }
}

function isLibraryPath (p: string): boolean {
  return p.includes('/node_modules/') || p.includes('\\node_modules\\')
}

function clip (line: string): string {
  return line.length > MAX_CONTEXT_LINE_LENGTH ? line.slice(0, MAX_CONTEXT_LINE_LENGTH) : line
}

function addContext (frame: StackFrame, lines: string[], total: number): void {
  if (frame.line === null) return
  const at = frame.line - 1
  if (at < 0 || at >= lines.length) return
  const before = Math.floor((total - 1) / 2)
  const after = total - 1 - before
  frame.preContext = lines.slice(Math.max(0, at - before), at).map(clip)
  frame.contextLine = clip(lines[at])
  frame.postContext = lines.slice(at + 1, Math.min(lines.length, at + 1 + after)).map(clip)
}

function contentLines (map: SourceMap, index: number, key: string): string[] | null {
  const content = map.sourcesContent[index]
  if (content === null) return null
  let lines = sourceContentLines.get(key)
  if (lines === undefined) {
    lines = content.split(/\r?\n/)
    sourceContentLines.set(key, lines, content.length + lines.length * 8)
  }
  return lines
}

async function enrichFrame (frame: StackFrame, opts: EnrichOptions): Promise<void> {
  const absPath = frame.absPath
  if (absPath === null || frame.line === null || !frame.inApp) return
  const total = opts.contextLines ?? 5
  const file = await getFile(absPath)
  if (opts.sourceMaps !== false && file.mapUrl !== null && frame.column !== null && !mappedByNode(absPath)) {
    const map = await getMap(absPath, file.mapUrl)
    const pos = map === null ? null : originalPosition(map, frame.line, frame.column)
    if (map !== null && pos !== null) {
      frame.generated = { file: frame.file, absPath, line: frame.line, column: frame.column }
      frame.line = pos.line
      frame.column = pos.column
      if (isUrlLike(pos.source)) {
        frame.absPath = null
        frame.file = pos.source
      } else {
        frame.absPath = pos.source
        frame.file = opts.appRoot === undefined ? pos.source : relativeToRoot(pos.source, opts.appRoot)
        frame.library = isLibraryPath(pos.source)
        frame.inApp = !frame.library
      }
      const fromMap = contentLines(map, pos.sourceIndex, pos.source)
      if (fromMap !== null) {
        addContext(frame, fromMap, total)
        return
      }
      if (frame.absPath !== null) {
        const original = await getFile(frame.absPath)
        if (original.lines !== null) addContext(frame, original.lines, total)
      }
      return
    }
  }
  if (file.lines !== null) addContext(frame, file.lines, total)
}

/**
 * Adds source context (`preContext`, `contextLine`, `postContext`) to application frames and,
 * where a source map sits next to (or inline in) a frame's file and Node has not applied it
 * already, moves the frame to the original file/line/column (keeping the old one in `generated`).
 * Async I/O only, bounded caches; never rejects.
 */
export async function enrichFrames (frames: StackFrame[], opts: EnrichOptions = {}): Promise<void> {
  try {
    if (!Array.isArray(frames) || frames.length === 0) return
    await Promise.all(frames.map((frame) => enrichFrame(frame, opts ?? {}).catch(() => {})))
  } catch {}
}
