// The registry: every instrumentation apm ships, as data (id, modules, version ranges). README tables and test
// matrices are built from it. An instrumentation's code is required (load()) only when the loader first sees one
// of its modules, so an app that never requires pg never compiles instrumentations/pg.js.
import type { Instrumentation, RegistryEntry } from '../lib/instrument'

// The ranges repeat those the instrumentation files declare on their targets (which the loader applies once a
// file is loaded); test/lazy-loading.test.ts fails when the two disagree.
export const instrumentations: RegistryEntry[] = [
  {
    id: 'http',
    targets: [
      { module: 'http', versions: '*' },
      { module: 'https', versions: '*' }
    ],
    load: () => (require('./http') as { default: Instrumentation }).default
  },
  {
    id: 'pg',
    targets: [
      { module: 'pg', versions: '>=8.0.3 <9' },
      { module: 'pg-pool', versions: '>=3 <4' },
      { module: 'pg-cursor', versions: '>=2 <3' }
    ],
    load: () => (require('./pg') as { default: Instrumentation }).default
  },
  {
    id: 'undici',
    targets: [{
      module: 'diagnostics_channel',
      versions: '*',
      covers: 'global `fetch` (the undici bundled with Node.js) and the `undici` package `>=5`, through its diagnostics channels'
    }],
    load: () => (require('./undici') as { default: Instrumentation }).default
  },
  {
    id: 'express',
    targets: [
      { module: 'express', versions: '>=4.0.0 <5' },
      { module: 'express', versions: '>=5.0.0 <6' },
      { module: 'router', versions: '>=2.0.0 <3' }
    ],
    load: () => (require('./express') as { default: Instrumentation }).default
  },
  {
    id: 'koa',
    targets: [{ module: 'koa', versions: '>=2.0.0 <4' }],
    load: () => (require('./koa') as { default: Instrumentation }).default
  }
]
