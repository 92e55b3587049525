import { hashSecret } from '../../../server/auth/secrets.js'
import { BaseCommand, readPayload } from '../../base.js'

export default class AuthHash extends BaseCommand { // offline: it talks to no switch, so it has no connection flags
  static override summary = 'Hash a secret for an auth file'
  static override description = 'Reads a secret on stdin (one line; a final newline is not part of it) and prints ' +
    'the salted scrypt hash to put in a principal\'s `secret` field.'

  static override examples = ['printf %s "$SECRET" | <%= config.bin %> auth hash']

  async run (): Promise<void> {
    await this.parse(AuthHash)
    const secret = (await readPayload({})).toString('utf8').replace(/\r?\n$/, '')
    if (secret === '') throw new Error('no secret on stdin')
    process.stdout.write(`${await hashSecret(secret)}\n`)
  }
}
