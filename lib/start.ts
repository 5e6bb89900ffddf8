// Preload entry (`node -r apm/start app.js`): start the agent from the environment before the app loads.
import agent from './index'

agent.start()
