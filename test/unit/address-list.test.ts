import t from 'tap';
import { addressMatcher, LOOPBACK, parseAddressList } from '../../src/security/address-list.ts';

const matcher = (list: string) => {
  const parsed = parseAddressList(list);
  if (!('ranges' in parsed)) throw new Error(`not a list: ${parsed.invalid}`);
  return addressMatcher(parsed.ranges);
};

t.test('addresses match the ranges they fall in, and nothing else', async (t) => {
  const loopback = addressMatcher(LOOPBACK);
  for (const address of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) t.ok(loopback(address), `${address} is loopback`);
  for (const address of ['128.0.0.1', '10.0.0.1', '::2', 'fe80::1', '::ffff:10.0.0.1', '', 'localhost', undefined]) t.notOk(loopback(address), `${address} is not`);

  const lan = matcher('10.1.0.0/16,fd00::/8,192.0.2.7');
  t.ok(lan('10.1.200.3'));
  t.notOk(lan('10.2.0.1'));
  t.ok(lan('fd12:3456::1'));
  t.ok(lan('192.0.2.7'));
  t.notOk(lan('192.0.2.8'), 'an address without a prefix is that one address');
  t.ok(matcher('fe80::/10')('fe80::1%eth0'), 'an interface suffix is ignored');
  t.ok(matcher('0.0.0.0/0')('203.0.113.9'), '/0 is everything of its family');
  t.notOk(matcher('0.0.0.0/0')('2001:db8::1'), 'but only of its family');
});

t.test('a list names the first entry that is not an address or range', async (t) => {
  t.same(parseAddressList('127.0.0.1, bogus ,::1'), { invalid: 'bogus' });
  t.same(parseAddressList('10.0.0.0/33'), { invalid: '10.0.0.0/33' });
  t.same(parseAddressList(''), { invalid: '' });
});
