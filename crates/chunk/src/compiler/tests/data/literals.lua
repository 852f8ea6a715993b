-- Generates literals.txt, the values lua5.4 gives literals and constant expressions:
--   lua5.4 literals.lua > literals.txt
-- Each case is two lines: `source:` (an expression) and `value:` (`int N`, `float` and the
-- IEEE bits in hex, or `string` and the bytes), bytes outside printable ASCII (and the
-- backslash) escaped as \xHH.

local rep = string.rep
local cases = {
  -- integers and their overflow into floats
  "0", "1", "42", "007", "9223372036854775807", "9223372036854775808", "18446744073709551616",
  "99999999999999999999", rep("9", 400), "2147483647", "2147483648", "4294967296",
  -- hexadecimal integers wrap around
  "0x0", "0xff", "0XFF", "0x7fffffffffffffff", "0x8000000000000000", "0xffffffffffffffff",
  "0x10000000000000000", "0x123456789abcdef0123", "0x" .. rep("f", 40),
  -- decimal floats
  "0.0", "1.0", "1.", ".5", "3.14159265358979323846", "1e10", "1E10", "1e+10", "1e-10",
  "1e308", "1e309", "2e-308", "4.9e-324", "2.4e-324", "2.5e-324", "1e-400", "0.1", "0.3",
  "123456789012345678901234567890", "1.7976931348623157e308", "1.7976931348623158e308",
  "2.2250738585072011e-308", "2.2250738585072014e-308", "9007199254740993", "9007199254740993.0",
  "0.000000000000000000000000000001", "1" .. rep("0", 300) .. ".0", "00.5e0005",
  -- hexadecimal floats
  "0x1p4", "0x1P-2", "0x.8", "0x1.8", "0xA.8p1", "0x1.fffffffffffffp1023", "0x1p1024",
  "0x1p-1074", "0x1p-1075", "0x1.8p-1075", "0x1p-1076", "0x3p-1076", "0x1.0000000000001p0",
  "0x1.00000000000008p0", "0x1.00000000000018p0", "0x1.000000000000081p0",
  "0x1.fffffffffffff8p0", "0x0.0000000000001p-1022", "0x1p-1022", "0x0.fffffffffffffp-1022",
  "0x" .. rep("f", 30) .. ".0", "0x" .. rep("1", 20) .. "p-10", "0x.000000000000000000001p0",
  "0xabcdef.abcdefp-20", "0x0p0", "0x0.0", "0x1e", "0xep1", "0x1p+4", "0x1p-0",
  -- short strings and escapes
  "'abc'", '"abc"', "''", [['a\nb\tc\\d\"e\'f']], [['\a\b\f\v\r']], [['\x41\x62\x7a\xff\x00']],
  [['\65\066\0067\0\255\1234']], [['\z   abc']], "'a\\z \n\t  b'", "'a\\\nb'", "'a\\\r\nb'",
  "'a\\\n\rb'", [['\u{41}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}']],
  [['\u{110000}\u{1FFFFF}\u{200000}\u{3FFFFFF}\u{4000000}\u{7FFFFFFF}']], [['\u{0}\u{00000041}']],
  "'\200\201\0'",
  -- long strings
  "[[abc]]", "[==[a]]b]=]c]==]", "[[\nfirst newline skipped]]", "[[\r\nCRLF]]", "[[\n\rLFCR]]",
  "[[a\r\nb\n\rc\rd\ne]]", "[[\n\n]]", "[=[]]]=]", "[[\\n is not an escape]]", "[[]]",
  -- constant folding
  "1 + 2", "7 // 2", "-7 // 2", "7 // -2", "7 % 3", "-7 % 3", "7 % -3", "-7 % -3",
  "7.5 // 2", "-7.5 // 2", "1 / 2", "3 * 4.0", "2 - 3.5", "9223372036854775807 + 1",
  "-9223372036854775807 - 2", "0x7fffffffffffffff * 2", "-(-9223372036854775807 - 1)",
  "(-9223372036854775807 - 1) // -1", "(-9223372036854775807 - 1) % -1", "5 // 0.5",
  "1 << 62", "1 << 63", "1 << 64", "1 >> 1", "-1 >> 1", "-1 >> 63", "-1 >> 64", "1 << -1",
  "2 >> -1", "3 & 5", "3 | 5", "3 ~ 5", "~0", "~5", "- -5", "- 1.5",
  "3.0 | 0", "1.5e300 * 1.5e300", "-1e308 * 10", "1e308 + 1e308 - 1e308",
  "0x10 + 0x10", "10 // 3 * 3 + 10 % 3", "(1 + 2) * 3 - 4 // 5", "1e15 + 0.3",
  "100000000000000 * 100000", "2 - -2", "7 // 2.0", "-0x8000000000000000 // -1",
  "2^53", "2^-1", "2^0.5", "10^2", "3^40", "1e300^2", "-2^0.5", "2^53 | 0", "7.5 % 2", "-7.5 % 2",
  "5.5 % -2", "1e308 % 3", "7 % 2.5", "2^63 // 1", "1.5 // 0.5",
}

local function escape(s)
  return (s:gsub(".", function(c)
    local b = c:byte()
    if b < 32 or b > 126 or c == "\\" then return string.format("\\x%02X", b) end
  end))
end

for _, source in ipairs(cases) do
  local value = assert(load("return " .. source))()
  local text
  if math.type(value) == "integer" then
    text = "int " .. string.format("%d", value)
  elseif math.type(value) == "float" then
    text = "float " .. string.format("%016x", string.unpack("<i8", string.pack("<d", value)))
  else
    text = "string " .. escape(value)
  end
  io.write("source: ", escape(source), "\n")
  io.write("value: ", text, "\n")
end
