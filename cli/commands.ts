// The explicit command map oclif loads (package.json "oclif.commands"): no directory scan at startup.
import Ack from './commands/ack.js'
import AuthAdd from './commands/auth/add.js'
import AuthHash from './commands/auth/hash.js'
import Bind from './commands/bind.js'
import Call from './commands/call.js'
import Create from './commands/create.js'
import Destroy from './commands/destroy.js'
import Diagnostics from './commands/diagnostics.js'
import List from './commands/list.js'
import Publish from './commands/publish.js'
import Receive from './commands/receive.js'
import Redrive from './commands/redrive.js'
import Send from './commands/send.js'
import Serve from './commands/serve.js'
import Shutdown from './commands/shutdown.js'
import Subscribe from './commands/subscribe.js'
import Tail from './commands/tail.js'
import Unbind from './commands/unbind.js'

export default {
  serve: Serve,
  call: Call,
  send: Send,
  receive: Receive,
  publish: Publish,
  subscribe: Subscribe,
  bind: Bind,
  unbind: Unbind,
  create: Create,
  redrive: Redrive,
  list: List,
  diagnostics: Diagnostics,
  tail: Tail,
  ack: Ack,
  destroy: Destroy,
  shutdown: Shutdown,
  'auth:hash': AuthHash,
  'auth:add': AuthAdd
}
