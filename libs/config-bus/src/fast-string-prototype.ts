/**
 * ioredis 6 defines `class VerbatimString extends String` (RESP3 verbatim strings). Defining a
 * subclass of a built-in makes V8 switch the parent prototype, here String.prototype, to its slow
 * dictionary layout ("prototype setup mode"), and it stays there until a property access on an
 * object whose prototype chain holds it turns it back. Primitive strings never do that, so
 * without this, every string method call in the process (`indexOf`, `slice`, `toLowerCase`...,
 * made by node:http, undici and our own header handling on every request) pays a hash lookup.
 * Measured on the Gateway's proxy path: 3 % more instructions per request (callgrind); in a
 * tight loop string methods run 3x slower.
 *
 * Call once after every module is loaded (a later `extends String` would switch it again).
 * Writing and then reading a property of a String wrapper object is such an access.
 */
export function restoreFastStringPrototype(): void {
  const wrapper = new String('') as string & { probe?: number };
  wrapper.probe = 0;
  void wrapper.indexOf;
}
