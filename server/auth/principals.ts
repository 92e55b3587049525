import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { filterProblem } from '../../protocol/topics.js'
import { ACTIONS, GLOBAL_ACTIONS, type Action, type Grant } from './access.js'
import { apiKeyDigest, apiKeyHashProblem, digestMatches, secretHashProblem, verifySecret } from './secrets.js'

/** Who may log in, and with what permissions: one entry of the auth file's `principals`. */
export interface Principal {
  name: string
  /** A `scrypt$…` hash of its secret (`switch auth hash`). */
  secret?: string
  /** A `sha256$…` hash of its API key (`switch auth add NAME --api-key`). */
  apiKey?: string
  permissions: Grant[]
}

/** What a login presents: a principal's name and secret, or an API key (which names its principal). */
export interface Credentials {
  principal?: string
  secret?: string
  apiKey?: string
}

/** What an auth file declares. */
export interface AuthFile {
  principals: Principal[]
  /**
   * Who the original protocols act as over TCP (`originalProtocols: { principal: NAME }`): they present no
   * credentials, so without it they are refused there. Over the Unix socket its file permissions decide.
   */
  originalPrincipal?: string
}

/** A problem with an auth file, as one line naming the file, the principal and the field. */
export class AuthFileError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'AuthFileError'
  }
}

const NAME = /^[A-Za-z0-9._@-]{1,100}$/
const PRINCIPAL_KEYS = new Set(['name', 'secret', 'apiKey', 'permissions'])
const GRANT_KEYS = new Set(['actions', 'queues', 'topics'])

type Fail = (where: string, problem: string) => never

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function strings (value: unknown, where: string, fail: Fail): string[] {
  if (!Array.isArray(value) || value.length === 0) fail(where, 'must be a non-empty list')
  return value.map((item: unknown, i) => {
    if (typeof item !== 'string' || item === '') fail(`${where}[${i}]`, 'must be a non-empty string')
    return item
  })
}

function grantOf (value: unknown, where: string, fail: Fail): Grant {
  if (!isRecord(value)) fail(where, 'must be a mapping with actions (and queues or topics)')
  for (const key of Object.keys(value)) if (!GRANT_KEYS.has(key)) fail(`${where}.${key}`, 'is not a known field (actions, queues, topics)')
  const actions = strings(value.actions, `${where}.actions`, fail).map((action, i) => {
    if (!(ACTIONS as readonly string[]).includes(action)) fail(`${where}.actions[${i}]`, `${JSON.stringify(action)} is not one of ${ACTIONS.join(', ')}`)
    return action as Action
  })
  const grant: Grant = { actions }
  if (value.queues !== undefined) grant.queues = strings(value.queues, `${where}.queues`, fail)
  if (value.topics !== undefined) {
    grant.topics = strings(value.topics, `${where}.topics`, fail)
    grant.topics.forEach((filter, i) => {
      const problem = filterProblem(filter)
      if (problem !== undefined) fail(`${where}.topics[${i}]`, problem)
    })
  }
  // A grant that could never apply is a mistake in the file, not a silent nothing.
  const scoped = actions.filter((action) => !GLOBAL_ACTIONS.has(action))
  if (scoped.length > 0 && grant.queues === undefined && grant.topics === undefined) {
    fail(where, `${scoped.join(', ')} need queues or topics to apply to (\`["*"]\` for all queues, \`["#"]\` for all topics)`)
  }
  return grant
}

function principalOf (value: unknown, index: number, fail: Fail): Principal {
  const at = `principals[${index}]`
  if (!isRecord(value)) fail(at, 'must be a mapping with name, secret or apiKey, and permissions')
  if (typeof value.name !== 'string' || !NAME.test(value.name)) fail(`${at}.name`, 'must be 1 to 100 characters from A-Z a-z 0-9 . _ @ -')
  const where = `principal ${value.name}`
  for (const key of Object.keys(value)) if (!PRINCIPAL_KEYS.has(key)) fail(`${where}: ${key}`, 'is not a known field (name, secret, apiKey, permissions)')
  const principal: Principal = { name: value.name, permissions: [] }
  if (value.secret !== undefined) {
    const problem = typeof value.secret === 'string' ? secretHashProblem(value.secret) : 'must be a string'
    if (problem !== undefined) fail(`${where}: secret`, problem)
    principal.secret = value.secret as string
  }
  if (value.apiKey !== undefined) {
    const problem = typeof value.apiKey === 'string' ? apiKeyHashProblem(value.apiKey) : 'must be a string'
    if (problem !== undefined) fail(`${where}: apiKey`, problem)
    principal.apiKey = value.apiKey as string
  }
  if (principal.secret === undefined && principal.apiKey === undefined) fail(where, 'needs a secret or an apiKey to log in with')
  if (value.permissions !== undefined) {
    if (!Array.isArray(value.permissions)) fail(`${where}: permissions`, 'must be a list')
    principal.permissions = value.permissions.map((grant: unknown, i) => grantOf(grant, `permissions[${i}]`, (field, problem) => fail(`${where}: ${field}`, problem)))
  }
  return principal
}

function originalPrincipalOf (value: unknown, principals: Principal[], fail: Fail): string {
  if (!isRecord(value)) fail('originalProtocols', 'must be a mapping with the principal they act as: { principal: NAME }')
  for (const key of Object.keys(value)) if (key !== 'principal') fail(`originalProtocols.${key}`, 'is not a known field (principal)')
  const name = value.principal
  if (typeof name !== 'string' || !principals.some((principal) => principal.name === name)) {
    fail('originalProtocols.principal', 'must name a principal of this file')
  }
  return name
}

/** What an auth file's text declares, validated; `file` names it in errors. */
export function parseAuthFile (text: string, file: string): AuthFile {
  const fail: Fail = (where, problem) => { throw new AuthFileError(`auth file ${file}: ${where} ${problem}`) }
  let document: unknown
  try {
    document = parse(text)
  } catch (error) {
    throw new AuthFileError(`auth file ${file}: not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`)
  }
  if (!isRecord(document) || !Array.isArray(document.principals)) fail('the document', 'must be a mapping with a `principals` list')
  const principals = document.principals.map((value: unknown, i) => principalOf(value, i, fail))
  const seen = new Set<string>()
  for (const { name } of principals) {
    if (seen.has(name)) fail(`principal ${name}`, 'is declared twice')
    seen.add(name)
  }
  if (document.originalProtocols === undefined) return { principals }
  return { principals, originalPrincipal: originalPrincipalOf(document.originalProtocols, principals, fail) }
}

export async function readAuthFile (file: string): Promise<AuthFile> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new AuthFileError(`cannot read auth file ${file}: ${(error as Error).message.replace(/^E[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')}`)
  }
  return parseAuthFile(text, file)
}

/** Compared against when the principal named does not exist, so that a login takes as long either way. */
const DECOY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'

/**
 * The principals of an auth file, reloadable: sessions keep their principal's name and its permissions are
 * looked up at every check, so a reload applies at once, and a principal removed ends its sessions' rights.
 */
export class Principals {
  private byName: Map<string, Principal>
  /** Who the original protocols act as over TCP, if anyone (see AuthFile). */
  originalPrincipal: string | undefined

  private constructor (readonly file: string, { principals, originalPrincipal }: AuthFile) {
    this.byName = new Map(principals.map((principal) => [principal.name, principal]))
    this.originalPrincipal = originalPrincipal
  }

  static async load (file: string): Promise<Principals> {
    return new Principals(file, await readAuthFile(file))
  }

  /** Reads the file again; a file with a problem is refused (AuthFileError) and the principals stay as they were. */
  async reload (): Promise<void> {
    const { principals, originalPrincipal } = await readAuthFile(this.file)
    this.byName = new Map(principals.map((principal) => [principal.name, principal]))
    this.originalPrincipal = originalPrincipal
  }

  get (name: string): Principal | undefined {
    return this.byName.get(name)
  }

  get size (): number {
    return this.byName.size
  }

  /** The principal the credentials prove, if they do. */
  async authenticate (credentials: Credentials): Promise<Principal | undefined> {
    if (credentials.apiKey !== undefined) {
      const digest = apiKeyDigest(credentials.apiKey)
      let found: Principal | undefined
      // Every key is compared, in constant time: how long it takes says nothing of which one matched.
      for (const principal of this.byName.values()) {
        if (principal.apiKey !== undefined && digestMatches(digest, principal.apiKey)) found = principal
      }
      if (found === undefined || (credentials.principal !== undefined && credentials.principal !== found.name)) return undefined
      return found
    }
    if (credentials.principal === undefined || credentials.secret === undefined) return undefined
    const principal = this.byName.get(credentials.principal)
    const matches = await verifySecret(credentials.secret, principal?.secret ?? DECOY_HASH)
    return matches && principal?.secret !== undefined ? principal : undefined
  }
}
