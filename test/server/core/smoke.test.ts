import t from 'tap'
import { Switch } from '../../../server/core/switch.js'

t.test('core smoke', async (t) => {
  const core = new Switch()
  t.teardown(() => core.close())
  const s = await core.login('a')
  await core.createQueue(s, 'q')
  const { id } = await core.send(s, 'q', Buffer.from('x'))
  t.equal(id, 1)
})
