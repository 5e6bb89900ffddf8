// The registry: every instrumentation apm ships, as data (id, modules, version ranges). README tables and test
// matrices are built from it. An instrumentation's code is required (load()) only when the loader first sees one
// of its modules, so an app that never requires pg never compiles instrumentations/pg.js.
import type { Instrumentation, RegistryEntry } from '../lib/instrument'
import { EXPRESS_4, EXPRESS_5, HTTP, HTTPS, KOA, PG, PG_CURSOR, PG_POOL, ROUTER_2, UNDICI } from './targets'

export const instrumentations: RegistryEntry[] = [
  { id: 'http', targets: [HTTP, HTTPS], load: () => (require('./http') as { default: Instrumentation }).default },
  { id: 'pg', targets: [PG, PG_POOL, PG_CURSOR], load: () => (require('./pg') as { default: Instrumentation }).default },
  { id: 'undici', targets: [UNDICI], load: () => (require('./undici') as { default: Instrumentation }).default },
  { id: 'express', targets: [EXPRESS_4, EXPRESS_5, ROUTER_2], load: () => (require('./express') as { default: Instrumentation }).default },
  { id: 'koa', targets: [KOA], load: () => (require('./koa') as { default: Instrumentation }).default }
]
