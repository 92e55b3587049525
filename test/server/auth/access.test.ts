import t from 'tap'
import { filterCovers, globMatches, granted, type Grant } from '../../../server/auth/access.js'
import { AuthFileError, parseAuthFile } from '../../../server/auth/principals.js'
import { apiKeyDigest, digestMatches, generateApiKey, hashApiKey, hashSecret, verifySecret } from '../../../server/auth/secrets.js'

t.test('queue globs: * matches any run of characters, nothing else is special', async (t) => {
  t.ok(globMatches('jobs-*', 'jobs-1'))
  t.ok(globMatches('jobs-*', 'jobs-'))
  t.ok(globMatches('*', 'a/b.c'))
  t.notOk(globMatches('jobs-*', 'other'))
  t.notOk(globMatches('svc.upper', 'svcXupper'), 'a dot is a dot')
  t.ok(globMatches('a*b*c', 'a-x-b-y-c'))
  t.notOk(globMatches('jobs', 'jobs-1'), 'anchored at both ends')
})

t.test('topic filters: a grant covers a topic, or a filter, when it matches all it matches', async (t) => {
  t.ok(filterCovers('status/#', 'status/a/b'))
  t.ok(filterCovers('status/#', 'status/+'))
  t.ok(filterCovers('status/#', 'status'), '# matches the parent level too')
  t.ok(filterCovers('#', '#'))
  t.ok(filterCovers('a/+/c', 'a/b/c'))
  t.ok(filterCovers('a/+/c', 'a/+/c'))
  t.notOk(filterCovers('a/b/c', 'a/+/c'), 'a literal does not cover +')
  t.notOk(filterCovers('a/+', 'a/#'), '+ does not cover #')
  t.notOk(filterCovers('status/#', '#'))
  t.notOk(filterCovers('a/b', 'a/b/c'))
  t.notOk(filterCovers('a/b/c', 'a/b'))
})

t.test('grants: an action on a matching queue or topic; observe and admin on the switch', async (t) => {
  const grants: Grant[] = [
    { actions: ['send', 'receive'], queues: ['jobs-*'] },
    { actions: ['publish'], topics: ['status/#'] },
    { actions: ['observe'] }
  ]
  t.ok(granted(grants, 'send', { queue: 'jobs-1' }))
  t.notOk(granted(grants, 'send', { queue: 'other' }))
  t.notOk(granted(grants, 'manage', { queue: 'jobs-1' }))
  t.ok(granted(grants, 'publish', { topic: 'status/x' }))
  t.notOk(granted(grants, 'publish', { queue: 'status' }), 'topics grant no queue')
  t.notOk(granted(grants, 'send', { topic: 'jobs-1' }), 'queues grant no topic')
  t.ok(granted(grants, 'observe', {}))
  t.notOk(granted(grants, 'admin', {}))
})

t.test('secrets are salted scrypt hashes, API keys sha256 digests; both compare in constant time', async (t) => {
  const hash = await hashSecret('hunter2')
  t.match(hash, /^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/)
  t.not(await hashSecret('hunter2'), hash, 'salted: the same secret hashes differently')
  t.ok(await verifySecret('hunter2', hash))
  t.notOk(await verifySecret('hunter3', hash))
  const key = generateApiKey()
  t.ok(key.length >= 40)
  t.ok(digestMatches(apiKeyDigest(key), hashApiKey(key)))
  t.notOk(digestMatches(apiKeyDigest(`${key}x`), hashApiKey(key)))
})

t.test('the auth file is validated, each problem one line naming the principal and field', async (t) => {
  const secret = await hashSecret('s')
  const problem = (text: string): string => {
    try {
      parseAuthFile(text, 'auth.yaml')
    } catch (error) {
      if (error instanceof AuthFileError) return error.message
      throw error
    }
    return 'no problem'
  }
  t.equal(problem(`principals:\n  - name: a\n    secret: "${secret}"\n    permissions:\n      - actions: [send]\n        queues: ["q*"]\n`), 'no problem')
  t.equal(problem(JSON.stringify({ principals: [{ name: 'a', apiKey: hashApiKey('k'), permissions: [{ actions: ['observe', 'admin'] }] }] })), 'no problem', 'JSON is YAML')
  t.equal(problem(`principals:\n  - name: a\n    secret: "${secret}"\noriginalProtocols:\n  principal: a\n`), 'no problem')
  t.equal(problem(`principals:\n  - name: a\n    secret: "${secret}"\noriginalProtocols:\n  principal: b\n`),
    'auth file auth.yaml: originalProtocols.principal must name a principal of this file')
  t.equal(problem(`principals:\n  - name: a\n    secret: "${secret}"\noriginalProtocols: a\n`),
    'auth file auth.yaml: originalProtocols must be a mapping with the principal they act as: { principal: NAME }')
  t.equal(problem('principals: 3'), 'auth file auth.yaml: the document must be a mapping with a `principals` list')
  t.equal(problem('principals: [{'), problem('principals: [{').split('\n')[0], 'a syntax error is one line')
  t.match(problem('principals: [{'), /^auth file auth\.yaml: not valid YAML or JSON: /)
  t.equal(problem('principals:\n  - name: alice\n    secret: plain\n'), 'auth file auth.yaml: principal alice: secret is not a scrypt hash (make one with `switch auth hash`)')
  t.equal(problem('principals:\n  - name: alice\n'), 'auth file auth.yaml: principal alice needs a secret or an apiKey to log in with')
  t.equal(problem(`principals:\n  - name: alice\n    secret: "${secret}"\n    permissions:\n      - actions: [sned]\n        queues: ["*"]\n`),
    'auth file auth.yaml: principal alice: permissions[0].actions[0] "sned" is not one of send, receive, manage, publish, observe, admin')
  t.equal(problem(`principals:\n  - name: alice\n    secret: "${secret}"\n    permissions:\n      - actions: [send]\n`),
    'auth file auth.yaml: principal alice: permissions[0] send need queues or topics to apply to (`["*"]` for all queues, `["#"]` for all topics)')
  t.equal(problem(`principals:\n  - name: alice\n    secret: "${secret}"\n    permissions:\n      - actions: [publish]\n        topics: ["a/#/b"]\n`).startsWith('auth file auth.yaml: principal alice: permissions[0].topics[0] '), true)
  t.equal(problem(`principals:\n  - name: alice\n    secret: "${secret}"\n    role: x\n`), 'auth file auth.yaml: principal alice: role is not a known field (name, secret, apiKey, permissions)')
  t.equal(problem(`principals:\n  - name: a\n    secret: "${secret}"\n  - name: a\n    secret: "${secret}"\n`), 'auth file auth.yaml: principal a is declared twice')
  t.equal(problem('principals:\n  - name: "bad name"\n'), 'auth file auth.yaml: principals[0].name must be 1 to 100 characters from A-Z a-z 0-9 . _ @ -')
})
