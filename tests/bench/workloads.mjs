// The benchmark workloads. Every VM workload is one Lua chunk, the same text for every engine,
// ending in `return <checksum>` so that the result can be compared across engines (nothing is
// optimised away, nothing is silently wrong). Checksums are integers below 2^53 or strings.

/** Group 1: the VM itself and the standard library. */
export const VM = [
  {
    name: 'add_loop', label: 'loop: 1e7 additions', group: 'vm',
    code: 'local s = 0\nfor i = 1, 10000000 do s = s + i end\nreturn s',
  },
  {
    name: 'fib30', label: 'recursive fib(30)', group: 'vm',
    code: 'local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end\nreturn fib(30)',
  },
  {
    name: 'array_1e6', label: 'array write+sum 1e6', group: 'vm',
    code: 'local t = {}\nfor i = 1, 1000000 do t[i] = i end\nlocal s = 0\nfor i = 1, #t do s = s + t[i] end\nreturn s',
  },
  {
    name: 'strkeys_2e5', label: '2e5 string-keyed writes+reads', group: 'vm',
    code: "local t = {}\nfor i = 1, 200000 do t['k' .. i] = i end\nlocal s = 0\n" +
      "for i = 1, 200000 do s = s + t['k' .. i] end\nreturn s",
  },
  {
    name: 'join_1e5', label: '1e5-piece join (table.concat)', group: 'vm',
    code: "local p = {}\nfor i = 1, 100000 do p[i] = 'x' .. i end\nlocal s = table.concat(p)\nreturn #s",
  },
  {
    name: 'append_1e5', label: "naive s = s .. 'x' (1e5)", group: 'vm',
    code: "local s = ''\nfor i = 1, 100000 do s = s .. 'x' end\nreturn #s",
  },
  {
    name: 'method_1e6', label: '1e6 method calls via __index', group: 'vm',
    code: 'local C = {}\nC.__index = C\nfunction C.new(v) return setmetatable({ v = v }, C) end\n' +
      'function C:get() return self.v end\nlocal o = C.new(3)\nlocal s = 0\n' +
      'for i = 1, 1000000 do s = s + o:get() end\nreturn s',
  },
  {
    name: 'closure_1e6', label: '1e6 closure creations', group: 'vm',
    code: 'local s = 0\nfor i = 1, 1000000 do\n  local f = function() return i end\n  s = s + f()\nend\nreturn s',
  },
  {
    name: 'format_1e5', label: 'string.format x 1e5', group: 'stdlib',
    code: "local n = 0\nfor i = 1, 100000 do n = n + #string.format('%d:%s:%.2f', i, 'abc', i / 7) end\nreturn n",
  },
  {
    name: 'gsub_1e5', label: 'gsub, 1e5 matches', group: 'stdlib',
    // string.gsub(s, ...) rather than s:gsub(...): method calls on strings need the string
    // metatable, which our engine lacked when this was written.
    code: "local s = string.rep('hello world ', 50000)\nlocal r, k = string.gsub(s, '%w+', '<%0>')\nreturn #r .. ':' .. k",
  },
  {
    name: 'concat_1e5', label: 'table.concat 1e5 numbers (x10)', group: 'stdlib',
    code: "local t = {}\nfor i = 1, 100000 do t[i] = i end\nlocal n = 0\n" +
      "for r = 1, 10 do n = n + #table.concat(t, ',') end\nreturn n",
  },
  {
    name: 'sort_1e5', label: 'table.sort 1e5 numbers', group: 'stdlib',
    // Floats so that engines with 32-bit integers (fengari) compute the same keys.
    code: 'local t = {}\nlocal x = 12345.0\nfor i = 1, 100000 do x = (x * 16807) % 2147483647; t[i] = x end\n' +
      "table.sort(t)\nreturn string.format('%.0f:%.0f:%.0f', t[1], t[50000], t[100000])",
  },
];

/**
 * Group 2: external tables (our engine only), each paired with the same code on a plain Lua
 * table in the same VM. `prefill` entries are put into `_home` from JS before the timed run
 * (untimed); `plainSetup` builds the plain counterpart in Lua (untimed). `ops` = operations
 * per run, for rates.
 */
export function external(N, NP, NN) {
  return [
    {
      name: 'ext_int_write', label: `_home[i] = i writes (${fmtN(N)})`, ops: N, kind: 'write',
      ext: `local t = _home\nfor i = 1, ${N} do t[i] = i end\nreturn ext.size(t)`,
      plain: `local t = {}\nfor i = 1, ${N} do t[i] = i end\nreturn #t`,
    },
    {
      name: 'ext_int_read', label: `_home[i] reads (${fmtN(N)})`, ops: N, kind: 'read',
      prefill: { n: N, key: 'int', value: 'int' },
      plainSetup: `T = {}\nfor i = 1, ${N} do T[i] = i end`,
      ext: `local t = _home\nlocal s = 0\nfor i = 1, ${N} do s = s + t[i] end\nreturn s`,
      plain: `local t = T\nlocal s = 0\nfor i = 1, ${N} do s = s + t[i] end\nreturn s`,
    },
    {
      name: 'ext_str_write', label: `_home['k'..i] = 'v'..i writes (${fmtN(N)})`, ops: N, kind: 'write',
      ext: `local t = _home\nfor i = 1, ${N} do t['k' .. i] = 'v' .. i end\nreturn ext.size(t)`,
      plain: `local t = {}\nfor i = 1, ${N} do t['k' .. i] = 'v' .. i end\nlocal n = 0\nfor _ in pairs(t) do n = n + 1 end\nreturn n`,
    },
    {
      name: 'ext_str_read', label: `_home['k'..i] reads (${fmtN(N)})`, ops: N, kind: 'read',
      prefill: { n: N, key: 'str', value: 'str' },
      plainSetup: `T = {}\nfor i = 1, ${N} do T['k' .. i] = 'v' .. i end`,
      ext: `local t = _home\nlocal n = 0\nfor i = 1, ${N} do n = n + #t['k' .. i] end\nreturn n`,
      plain: `local t = T\nlocal n = 0\nfor i = 1, ${N} do n = n + #t['k' .. i] end\nreturn n`,
    },
    {
      name: 'ext_pairs', label: `pairs over ${fmtN(NP)} keys`, ops: NP, kind: 'pairs',
      prefill: { n: NP, key: 'int', value: 'int' },
      plainSetup: `T = {}\nfor i = 1, ${NP} do T[i] = i end`,
      ext: "local n, s = 0, 0\nfor k, v in pairs(_home) do n = n + 1; s = s + v end\nreturn n .. ':' .. s",
      plain: "local n, s = 0, 0\nfor k, v in pairs(T) do n = n + 1; s = s + v end\nreturn n .. ':' .. s",
    },
    {
      name: 'ext_nested', label: `nested-table writes t[i] = {id=i, name='n'..i} (${fmtN(NN)})`, ops: NN, kind: 'nested',
      ext: `local t = _home\nfor i = 1, ${NN} do t[i] = { id = i, name = 'n' .. i } end\n` +
        `local s = 0\nfor i = 1, ${NN}, 1000 do s = s + t[i].id end\nreturn s`,
      plain: `local t = {}\nfor i = 1, ${NN} do t[i] = { id = i, name = 'n' .. i } end\n` +
        `local s = 0\nfor i = 1, ${NN}, 1000 do s = s + t[i].id end\nreturn s`,
    },
  ];
}

export function fmtN(n) {
  if (n >= 1e6 && n % 1e6 === 0) return `${n / 1e6}e6`;
  if (n >= 1e5 && n % 1e5 === 0) return `${n / 1e5}e5`;
  if (n >= 1e4 && n % 1e4 === 0) return `${n / 1e4}e4`;
  return String(n);
}
