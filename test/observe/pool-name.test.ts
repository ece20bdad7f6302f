import t from 'tap'
import { defaultPoolName } from '../../lib/observe/pool-name'

t.test('the default pool name is host:port/database, never credentials', async (t) => {
  const cases: Array<[unknown, string | undefined]> = [
    ['mysql://app:s3cret@db.internal:3307/shop', 'db.internal:3307/shop'],
    ['mysql://app:s3cret@db.internal/shop', 'db.internal:3306/shop'],
    ['mariadb://u@10.0.0.5:3310/reports', '10.0.0.5:3310/reports'],
    ['mysql://u@[::1]:3306/my%20db', '[::1]:3306/my db'],
    ['mysql://u@host', 'host:3306/'],
    ['not a url', undefined],
    [{ uri: 'mysql://u:p@h:1234/d' }, 'h:1234/d'],
    [{ host: 'h', port: 3307, user: 'u', password: 'p', database: 'd' }, 'h:3307/d'],
    [{ host: 'h', port: '3308' }, 'h:3308/'],
    [{ user: 'u', password: 'p' }, 'localhost:3306/'],
    [{ socketPath: '/run/mysqld/mysqld.sock', database: 'd' }, '/run/mysqld/mysqld.sock/d'],
    [['mysql://u:p@a:1/x', 'mysql://u:p@b:2/x'], 'a:1/x'],
    [[], undefined],
    [undefined, undefined],
    [null, undefined],
    [42, undefined]
  ]
  for (const [input, expected] of cases) {
    const name = defaultPoolName(input)
    t.equal(name, expected, JSON.stringify(input))
    if (name !== undefined) t.notMatch(name, /s3cret|:p@|u:/, 'no credentials')
  }
})
