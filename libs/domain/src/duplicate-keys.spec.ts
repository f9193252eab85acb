import { findDuplicateKey } from './duplicate-keys';

describe('findDuplicateKey', () => {
  it.each([
    ['{"a":1,"b":2}', null],
    ['{"a":1,"a":2}', 'a'],
    ['{"a":1,"\\u0061":2}', 'a'],
    ['{"a":{"x":1},"b":{"x":1}}', null],
    ['{"a":{"x":1,"x":2}}', 'a.x'],
    ['{"views":[{"o":1},{"o":1,"o":2}]}', 'views.1.o'],
    ['{"s":"a\\",\\"s\\":\\"","t":1}', null],
    ['{"a":[1,{"b":[{},{"c":1,"c":1}]}]}', 'a.1.b.1.c'],
    ['{"__proto__":1,"__proto__":2}', '__proto__'],
    ['{}', null],
    ['[{"a":1},{"a":1}]', null],
    ['{ "a" : 1 , "b" : { "a" : 2 } , "a" :3}', 'a'],
    ['{"k":"x:y","l":["a",":"]}', null],
  ])('%s → %s', (text, expected) => {
    // With the parsed value (the fast path that counts keys) and without it, the same answer.
    expect(findDuplicateKey(text, JSON.parse(text))).toBe(expected);
    expect(findDuplicateKey(text)).toBe(expected);
  });
});
