import { cannon } from './cannon.js'
import { echoHttp } from './echo-http.js'
import { rpcMqtt } from './rpc-mqtt.js'
import { rpcNats } from './rpc-nats.js'
import { rpcSwitch } from './rpc-switch.js'
import { prepareSenders } from './setup.js'
import { manySessions, tailTransfer } from './size.js'
import { stalledReaders } from './stalled.js'
import { switchWork } from './switch-work.js'
import { publishLatency } from './topics.js'
import { waiters } from './waiters.js'
import { workThroughput } from './work.js'

/** What a load process can be asked to run; each job is a function of plain, serializable data. */
export const jobs = { cannon, prepareSenders, echoHttp, rpcMqtt, rpcNats, rpcSwitch, waiters, tailTransfer, manySessions, publishLatency, stalledReaders, switchWork, workThroughput }

export type Jobs = typeof jobs
export type JobName = keyof Jobs
export type JobParams<K extends JobName> = Parameters<Jobs[K]>[0]
export type JobResult<K extends JobName> = Awaited<ReturnType<Jobs[K]>>
