// ESM preload entry (`node --import apm/start app.mjs`): start the agent before the app's imports are evaluated.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const agent = require('./index.js')

agent.start()
