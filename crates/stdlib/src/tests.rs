//! End-to-end tests of the libraries: Lua programs whose output is lua5.4's (each expected
//! text was printed by Debian's lua5.4 running the same program as chunk `=test`).

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use vm::{Host, Lua, Step};

/// A host that keeps what is printed; its clock and entropy are fixed.
struct Capture(Rc<RefCell<Vec<u8>>>);

impl Host for Capture {
    fn write(&mut self, bytes: &[u8]) {
        self.0.borrow_mut().extend_from_slice(bytes);
    }

    fn warn(&mut self, _message: &[u8]) {}

    fn clock(&mut self) -> f64 {
        0.0
    }

    fn time(&mut self) -> i64 {
        1_000_000_000
    }

    fn random_seed(&mut self) -> u64 {
        42
    }
}

/// Runs `source` as chunk `=test`; an uncaught error is printed as `error: message`.
fn run(source: &str) -> String {
    let out = Rc::new(RefCell::new(Vec::new()));
    let mut lua = Lua::new(Box::new(Capture(out.clone())));
    lua.enter(crate::open);
    lua.start_chunk(source.as_bytes(), b"=test", &[])
        .expect("test programs compile");
    if let Step::Error(e) = lua.run() {
        let line = alloc::format!("error: {}\n", e.message);
        out.borrow_mut().extend_from_slice(line.as_bytes());
    }
    let bytes = out.borrow().clone();
    String::from_utf8(bytes).expect("test output is text")
}

fn check(source: &str, expected: &str) {
    assert_eq!(run(source.trim_start()), expected);
}

/// Table functions go through __index, __newindex and __len.
#[test]
fn table_functions_go_through_index_newindex_and_len() {
    check(
        r#"
local store, log = {}, {}
local p = setmetatable({}, {
  __index = function(_, k) log[#log + 1] = "get" .. k; return store[k] end,
  __newindex = function(_, k, v) log[#log + 1] = "set" .. k; rawset(store, k, v) end,
  __len = function() return #store end})
table.insert(p, "a"); table.insert(p, 1, "b"); table.insert(p, 2, "c")
print(table.concat(p, ","), #log)
print(table.remove(p, 1), table.remove(p), table.concat(store, ","))
print(table.unpack(p))
table.move(p, 1, 1, 3)
print(store[3], table.concat(log, " "))
table.sort(p, function(a, b) return a > b end)
print(table.concat(store, ","))
print(pcall(table.insert, p, 5, "x"))
print(pcall(table.concat, setmetatable({}, {__len = function() return 2.5 end})))
"#,
        r#"b,c,a	10
b	a	c
c
c	set1 get1 set2 set1 get2 set3 set2 get1 get2 get3 get1 get2 set1 get3 set2 set3 get2 set2 get1 get1 set3
error: test:12: attempt to compare string with nil
"#,
    );
}

/// Sort ties land where lua5.4's quicksort puts them.
#[test]
fn sort_ties_land_where_lua5_4_s_quicksort_puts_them() {
    check(
        r#"
local t = {}
for i = 1, 300 do t[i] = {k = (i * 7919) % 13, id = i} end
table.sort(t, function(a, b) return a.k < b.k end)
local ids = {}
for i = 1, #t do ids[i] = t[i].id end
print(table.concat(ids, " "))
local words = {}
for w in ("the quick brown fox jumps over the lazy dog again and again"):gmatch("%a+") do words[#words + 1] = w end
table.sort(words)
print(table.concat(words, " "))
table.sort(words, function(a, b) return #a < #b end)
print(table.concat(words, " "))
"#,
        r#"65 169 39 156 195 208 26 221 299 130 91 78 143 104 117 52 234 182 13 247 260 286 273 124 7 137 46 228 280 98 72 111 293 85 59 163 267 150 202 33 189 254 176 215 241 20 248 79 209 92 222 287 105 196 118 235 261 170 274 144 66 131 183 157 1 300 14 53 27 40 190 125 47 138 268 112 8 21 229 255 281 34 177 151 242 203 164 99 216 294 73 60 86 80 288 106 28 41 184 236 275 145 119 197 54 223 93 262 132 171 249 15 2 158 210 67 139 35 152 256 74 165 178 295 61 243 9 191 126 100 22 282 204 87 48 269 113 217 230 159 107 276 55 250 211 172 94 16 289 68 185 29 198 133 81 263 237 120 3 146 224 42 205 231 62 218 296 179 192 153 244 140 270 23 257 114 127 10 36 101 49 283 166 88 75 56 199 4 95 277 225 212 290 69 108 82 238 17 160 121 147 43 251 186 30 173 264 134 245 284 297 11 219 271 232 258 63 141 50 89 128 115 102 193 180 167 24 206 37 76 154 213 44 135 252 148 265 109 278 83 70 122 291 96 57 5 161 31 187 174 200 239 226 18 38 233 51 116 272 194 285 90 220 298 103 25 207 77 64 259 142 129 12 168 246 155 181 32 149 58 84 253 292 201 71 175 214 227 110 45 162 266 123 188 136 97 279 19 240 6
again again and brown dog fox jumps lazy over quick the the
the the dog fox and over lazy brown jumps quick again again
"#,
    );
}

/// Sort errors and __lt.
#[test]
fn sort_errors_and_lt() {
    check(
        r#"
print(pcall(table.sort, {3, 1, 2, 5, 4, 6, 7, 8, 9, 10, 11, 12}, function(a, b) return true end))
print(pcall(table.sort, {1, "x", 2}))
print(pcall(table.sort, {1, 2}, 3))
local mt = {__lt = function(a, b) return a.v < b.v end}
local objs = {}
for i, v in ipairs{5, 3, 9, 1, 7} do objs[i] = setmetatable({v = v}, mt) end
table.sort(objs)
for i = 1, #objs do objs[i] = objs[i].v end
print(table.concat(objs, " "))
print(math.max(setmetatable({v = 1}, mt), setmetatable({v = 2}, mt)).v)
"#,
        r#"false	invalid order function for sorting
false	attempt to compare string with number
false	bad argument #2 to 'table.sort' (function expected, got number)
1 3 5 7 9
2
"#,
    );
}

/// Gsub with tables, functions and templates.
#[test]
fn gsub_with_tables_functions_and_templates() {
    check(
        r#"
print(string.gsub("hello world", "%w+", {hello = "HI", world = false}))
print(string.gsub("abc", "%w", setmetatable({}, {__index = function(_, k) return k:upper() end})))
print(string.gsub("abc", "()(%w)", function(p, c) return p .. c end))
print(string.gsub("abc abc", "^abc", "X"))
print(string.gsub("abc", "", "-", 2))
print(string.gsub("hello", "(l)(l)", "%2%1%0%%"))
print(pcall(string.gsub, "abc", "b", function() return {} end))
print(pcall(string.gsub, "abc", "b", "%2"))
print(pcall(string.gsub, "abc", "(b", "x"))
local n = 0
print(string.gsub(string.rep("ab", 5), "b", function() n = n + 1 return n end))
"#,
        r#"HI world	2
ABC	3
1a2b3c	3
X abc	1
-a-bc	2
hellll%o	1
false	invalid replacement value (a table)
false	invalid capture index %2
true	axc	1
a1a2a3a4a5	5
"#,
    );
}

/// Format with __tostring and flags.
#[test]
fn format_with_tostring_and_flags() {
    check(
        r#"
local obj = setmetatable({}, {__tostring = function() return "OBJ" end})
print(string.format("%s|%5s|%-5s|%q", obj, obj, "ab", "a\nb\0c"))
print(pcall(string.format, "%s", setmetatable({}, {__tostring = function() return {} end})))
print(string.format("%5.1f|%-8.3e|%+d|%x|%X|%o|%c|%g|%a", 3.14159, 1234.5, 7, 255, 255, 8, 65, 1e300, 0.1))
print(string.format("%q|%q|%q", 1/0, -1/0, math.mininteger), string.format("%q", 2^63))
print(pcall(string.format, "%d", 3.5))
print(pcall(string.format, "%10.3q", "x"))
print(pcall(string.format, "%w", 1))
print(string.format("%.3s|%-3c|%3c|%%|%5.2s|", "abcdef", 65, 66, "xyz"))
"#,
        r#"OBJ|  OBJ|ab   |"a\
b\0c"
false	'__tostring' must return a string
  3.1|1.234e+03|+7|ff|FF|10|A|1e+300|0x1.999999999999ap-4
1e9999|-1e9999|0x8000000000000000	0x1p+63
false	bad argument #2 to 'string.format' (number has no integer representation)
false	specifier '%q' cannot have modifiers
false	invalid conversion '%w' to 'format'
abc|A  |  B|%|   xy|
"#,
    );
}

/// Strings coerce in arithmetic through the string metatable.
#[test]
fn strings_coerce_in_arithmetic_through_the_string_metatable() {
    check(
        r#"
print("10" + 1, "3" * "4", "2" ^ 2, -"3", "7" // 2, "7.5" % 2, " 0x10 " + 0, "1e2" - 1)
print(pcall(function() return "abc" + 1 end))
print(pcall(function() return 1 - "x" end))
print(pcall(function() return -"x" end))
print(pcall(function() return "1" // "0" end))
print("10" + setmetatable({}, {__add = function(a, b) return "meta" end}))
print(("%d items"):format(3), ("abc"):upper(), ("x"):rep(3, "-"))
"#,
        r#"11	12	4.0	-3	3	1.5	16	99.0
false	test:2: attempt to add a 'string' with a 'number'
false	test:3: attempt to sub a 'number' with a 'string'
false	test:4: attempt to unm a 'string' with a 'string'
false	attempt to divide by zero
meta
3 items	ABC	x-x-x
"#,
    );
}

/// Sizes and positions are checked, not truncated.
#[test]
fn sizes_and_positions_are_checked_not_truncated() {
    check(
        r#"
print(pcall(string.rep, "x", 2^40))
print(pcall(string.rep, "xx", 2^30, ","))
print(("x"):sub(2^32 + 1), ("abc"):sub(-2^40, 2^40), ("abc"):byte(2^32 + 1), ("abc"):find("c", 2^32))
print(("abc"):sub(math.mininteger, math.maxinteger), ("abc"):byte(-2^33, 2^33))
print(string.find("abc", "b", -2^40), string.match("abc", "c", 2^53))
print(pcall(string.pack, "i17", 1))
print(#string.pack("c1000", ""), string.packsize("!8i1i8"), pcall(string.packsize, "c2147483647c2"))
print(pcall(string.char, 256))
print(pcall(table.unpack, {}, 1, 2^40))
print(pcall(table.concat, {}, "", 1, 2^40))
"#,
        r#"false	resulting string too large
false	resulting string too large
	abc	nil	nil
abc	97	98	99
2	nil
false	integral size (17) out of limits [1,16]
1000	16	false	invalid format option '7'
false	bad argument #1 to 'string.char' (value out of range)
false	too many results to unpack
false	invalid value (nil) at index 1 in table for 'concat'
"#,
    );
}

/// Patterns stay within their depth.
#[test]
fn patterns_stay_within_their_depth() {
    check(
        r#"
print(pcall(string.find, string.rep("a", 300), string.rep("a?", 300) .. string.rep("a", 300)))
print(pcall(string.match, "x", string.rep("(", 33)))
print(pcall(string.match, "x", "%"))
print(string.match("  key = value  ", "^%s*(%w+)%s*=%s*(%w+)%s*$"))
print(string.find("a+b", "+", 1, true), string.find("a.b", "%."), string.match("2024-01-02", "(%d+)-(%d+)-(%d+)"))
print(string.match("[[x]]", "%b[]"), string.match("THE (quick) fox", "%f[%a]%a+", 5), string.match("hello", "()ll()"))
local words = {}
for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do words[#words + 1] = k .. v end
print(table.concat(words, ";"))
for w in string.gmatch("one two", "%a*") do words[#words + 1] = "[" .. w .. "]" end
print(table.concat(words, ""))
"#,
        r#"false	pattern too complex
false	too many captures
false	malformed pattern (ends with '%')
key	value
2	2	2024	01	02
[[x]]	quick	3	5
a1;b2;c3
a1b2c3[one][two]
"#,
    );
}

/// Utf8 strict and lax.
#[test]
fn utf8_strict_and_lax() {
    check(
        r#"
print(utf8.len("\u{7FFFFFFF}", 1, -1, true), utf8.len("\u{7FFFFFFF}"), utf8.codepoint("\u{D800}", 1, 1, true))
local cps = {}
for p, c in utf8.codes("héllo") do cps[#cps + 1] = p .. ":" .. c end
print(table.concat(cps, " "))
print(utf8.char(72, 0x10FFFF, 0x7FFFFFFF):byte(1, -1))
print(utf8.offset("héllo", 3), utf8.offset("héllo", -1), pcall(utf8.offset, "héllo", 1, 3))
print(utf8.len("abc\xE4"), pcall(utf8.codepoint, "\xff"), utf8.charpattern == "[\0-\x7F\xC2-\xFD][\x80-\xBF]*")
print(pcall(utf8.char, -1), pcall(utf8.len, "abc", 5))
"#,
        r#"1	nil	55296
1:104 2:233 4:108 5:108 6:111
72	244	143	191	191	253	191	191	191	191	191
4	6	false	initial position is a continuation byte
nil	false	true
false	false	bad argument #2 to 'utf8.len' (initial position out of bounds)
"#,
    );
}

/// Os dates are UTC.
#[test]
fn os_dates_are_utc() {
    check(
        r#"
print(os.date("!%Y-%m-%d %H:%M:%S %A %B %j %p %y", 1e9))
print(os.time{year = 2001, month = 9, day = 9, hour = 1, min = 46, sec = 40})
local t = os.date("!*t", 0)
print(t.year, t.month, t.day, t.hour, t.wday, t.yday, t.isdst)
local n = {year = 2020, month = 14, day = 0, hour = 25, min = -1, sec = 70}
print(os.time(n), n.year, n.month, n.day, n.hour, n.min, n.sec, n.yday)
print(pcall(os.date, "%Q"), pcall(os.time, {year = 2020}))
print(os.difftime(10, 4), os.getenv("LUA_PERSIST_NO_SUCH_VARIABLE"), os.setlocale(), os.setlocale("fr_FR"))
"#,
        r#"2001-09-09 01:46:40 Sunday September 252 AM 01
1000000000
1970	1	1	0	5	1	false
1612141210	2021	2	1	1	0	10	32
false	false	field 'month' missing in date table
6.0	nil	C	nil
"#,
    );
}

/// Math.
#[test]
fn math() {
    check(
        r#"
math.randomseed(42)
print(math.random(1, 10), math.random(0), math.random())
print(math.max(3, 7.5, -1), math.min("10", "9"), math.tointeger("8"), math.fmod(-7, 3), math.fmod(7, -3.0))
print(math.floor(3.7), math.ceil(-3.7), math.floor(-0.0), math.abs(math.mininteger), math.modf(-3.5))
print(math.type(1), math.type(1.0), math.type("1"), math.ult(1, -1), math.huge, -math.huge, math.pi)
print(pcall(math.random, 2, 1), pcall(math.fmod, 1, 0), pcall(math.floor, "x"))
print(math.sqrt(-1), math.log(8, 2), math.log(100, 10), math.exp(0), 7 // 0.0, math.pow(2, 10))
"#,
        r#"6	8333941968102511665	0.54688311243421
7.5	10	8	-1	1.0
3	-3	0	-9223372036854775808	-3	-0.5
integer	float	nil	true	inf	-inf	3.1415926535898
false	false	false	bad argument #1 to 'math.floor' (number expected, got string)
-nan	3.0	2.0	1.0	inf	1024.0
"#,
    );
}

/// Errors name the function and the calling line.
#[test]
fn errors_name_the_function_and_the_calling_line() {
    check(
        r#"
print(pcall(string.rep))
local ok, e = pcall(function() return ("x"):rep({}) end) print(e)
ok, e = pcall(function() return string.rep("x", {}) end) print(e)
ok, e = pcall(function() return table.insert({}, 1, 2, 3) end) print(e)
ok, e = pcall(function() return table.concat({{}}) end) print(e)
ok, e = pcall(function() return ("x"):format() end) print(e)
print(pcall(table.remove, {}, 5))
"#,
        r#"false	bad argument #1 to 'string.rep' (string expected, got no value)
test:2: bad argument #1 to 'rep' (number expected, got table)
test:3: bad argument #2 to 'rep' (number expected, got table)
test:4: wrong number of arguments to 'insert'
test:5: invalid value (table) at index 1 in table for 'concat'
x
false	bad argument #1 to 'table.remove' (position out of bounds)
"#,
    );
}

/// Format calls __tostring when it reaches the conversion.
#[test]
fn format_calls_tostring_when_it_reaches_the_conversion() {
    check(
        r#"
local log = {}
local function obj(name) return setmetatable({}, {__tostring = function() log[#log + 1] = name return name end}) end
print(pcall(string.format, "%d %s", "x", obj("a")))
print(#log)
print(string.format("%s|%-4s|%q|%s", obj("b"), obj("c"), "q", obj("d")), table.concat(log, ","))
print(pcall(string.format, "%s %s", obj("e"), setmetatable({}, {__tostring = function() return true end})))
print(table.concat(log, ","))
print(string.format("%5s|%.1s", setmetatable({}, {__tostring = function() return 42 end}), obj("xyz")))
"#,
        r#"false	bad argument #2 to 'string.format' (number expected, got string)
0
b|c   |"q"|d	b,c,d
false	'__tostring' must return a string
b,c,d,e
   42|x
"#,
    );
}
