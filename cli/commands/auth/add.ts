import { Args, Flags } from '@oclif/core'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { Document, isMap, isSeq, parseDocument, type YAMLSeq } from 'yaml'
import { ACTIONS } from '../../../server/auth/access.js'
import { parseAuthFile, type Principal } from '../../../server/auth/principals.js'
import { generateApiKey, generateSecret, hashApiKey, hashSecret } from '../../../server/auth/secrets.js'
import { BaseCommand, fileProblem } from '../../base.js'

async function readIfThere (file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Error(`cannot read ${file}: ${fileProblem(error)}`)
  }
}

export default class AuthAdd extends BaseCommand { // offline: it talks to no switch, so it has no connection flags
  static override summary = 'Add a principal to an auth file'
  static override description = 'Adds NAME with a new random secret (or, with --api-key, an API key) and the ' +
    'permissions given, creating the file if need be (readable by its owner only), and prints the secret or key on ' +
    'stdout: the only time it is shown, as the file keeps only its hash. A running switch reads the file again on SIGHUP.'

  static override examples = [
    '<%= config.bin %> auth add alice --file auth.yaml --action send --action receive --queue "jobs-*"',
    '<%= config.bin %> auth add ops --api-key --file auth.yaml --action observe --action admin'
  ]

  static override args = {
    name: Args.string({ description: 'the principal\'s name', required: true })
  }

  static override flags = {
    file: Flags.string({ description: 'the auth file (YAML or JSON)', helpValue: 'FILE', required: true }),
    'api-key': Flags.boolean({ description: 'give it an API key instead of a secret' }),
    action: Flags.option({ options: ACTIONS, description: 'an action it may do (repeatable)', multiple: true })(),
    queue: Flags.string({ description: 'a queue-name glob its actions apply to (repeatable; * matches any run of characters)', helpValue: 'GLOB', multiple: true, dependsOn: ['action'] }),
    topic: Flags.string({ description: 'a topic filter its actions apply to (repeatable)', helpValue: 'FILTER', multiple: true, dependsOn: ['action'] })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(AuthAdd)
    const text = await readIfThere(flags.file)
    const document = text === undefined ? new Document({ principals: [] }) : parseDocument(text)
    const list = document.get('principals')
    // A new file's list is written in block style, one principal after another.
    if (text === undefined && isSeq(list)) list.flow = false
    if (!isSeq(list)) throw new Error(`auth file ${flags.file}: the document must be a mapping with a \`principals\` list`)
    if (list.items.some((item) => isMap(item) && item.get('name') === args.name)) {
      throw new Error(`auth file ${flags.file}: principal ${args.name} exists already`)
    }
    const credential = flags['api-key'] ? generateApiKey() : generateSecret()
    const principal: Principal = flags['api-key']
      ? { name: args.name, apiKey: hashApiKey(credential), permissions: [] }
      : { name: args.name, secret: await hashSecret(credential), permissions: [] }
    if (flags.action !== undefined) {
      const grant: Principal['permissions'][number] = { actions: flags.action }
      if (flags.queue !== undefined) grant.queues = flags.queue
      if (flags.topic !== undefined) grant.topics = flags.topic
      principal.permissions.push(grant)
    }
    ;(list as YAMLSeq).add(document.createNode(principal))
    const updated = document.toString()
    // What the switch would refuse is not written (the file named in errors is the one being changed).
    parseAuthFile(updated, flags.file)
    // Written whole, then renamed over the old file: a switch reloading meanwhile reads one or the other.
    const temporary = `${flags.file}.${process.pid}.tmp`
    await writeFile(temporary, updated, { mode: 0o600 })
    await rename(temporary, flags.file)
    process.stdout.write(`${credential}\n`)
    process.stderr.write(`added ${args.name} to ${flags.file}; its ${flags['api-key'] ? 'API key' : 'secret'} (above) is not shown again\n`)
  }
}
