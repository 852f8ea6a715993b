//! The `utf8` library: strict UTF-8 by default (no surrogates, nothing above U+10FFFF), and
//! with `lax` the original encoding of up to six bytes and values below 2^31.

use alloc::boxed::Box;
use alloc::vec::Vec;

use vm::function::NativeClosure;
use vm::lib::{at, at_mut, Action, Error, NativeCall, NativeFn};
use vm::state::Ctx;
use vm::value::Value;

use super::{register_lib, set_field};

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

/// Largest value the lax encoding can hold.
const MAX_UTF: u32 = 0x7FFF_FFFF;
/// Largest Unicode code point.
const MAX_UNICODE: u32 = 0x10_FFFF;
/// What `charpattern` matches: one UTF-8 sequence (not checked for validity).
const CHAR_PATTERN: &[u8] = b"[\x00-\x7F\xC2-\xFD][\x80-\xBF]*";
const INVALID: &str = "invalid UTF-8 code";

/// Registers `utf8`.
pub fn open(ctx: Ctx<'_>) {
    let utf8 = register_lib(
        ctx,
        "utf8",
        &[
            ("char", char),
            ("codepoint", codepoint),
            ("len", len),
            ("offset", offset),
        ],
    );
    set_field(ctx, utf8, b"charpattern", ctx.str_value(CHAR_PATTERN));
    // `codes` hands out one of two iterators; they are made once.
    let strict = NativeClosure::new(ctx.mc, "codes_step", codes_strict as NativeFn);
    let lax = NativeClosure::new(ctx.mc, "codes_step", codes_lax as NativeFn);
    let codes = NativeClosure::with_upvals(
        ctx.mc,
        "codes",
        codes,
        Box::new([Value::from(strict), Value::from(lax)]),
    );
    set_field(ctx, utf8, b"codes", Value::from(codes));
}

fn is_continuation(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(|&b| b & 0xC0 == 0x80)
}

/// Decodes the sequence at `s[i..]`: the code point and the index after it, or `None` for
/// an invalid sequence (in strict mode, also for surrogates and values past U+10FFFF).
fn decode(s: &[u8], i: usize, strict: bool) -> Option<(u32, usize)> {
    // The smallest value each sequence length may encode (longer ones are overlong).
    const LIMITS: [u32; 6] = [u32::MAX, 0x80, 0x800, 0x1_0000, 0x20_0000, 0x400_0000];
    let mut c = *s.get(i)? as u32;
    let mut res: u32 = 0;
    let mut count = 0;
    if c >= 0x80 {
        while c & 0x40 != 0 {
            count += 1;
            let cc = s.get(i + count).copied().unwrap_or(0) as u32;
            if cc & 0xC0 != 0x80 {
                return None;
            }
            res = (res << 6) | (cc & 0x3F);
            c <<= 1;
        }
        if count > 5 {
            return None;
        }
        res |= (c & 0x7F) << (count * 5);
        if res > MAX_UTF || res < LIMITS[count] {
            return None;
        }
    } else {
        res = c;
    }
    if strict && (res > MAX_UNICODE || (0xD800..=0xDFFF).contains(&res)) {
        return None;
    }
    Some((res, i + count + 1))
}

/// Appends `x` in the (lax) UTF-8 encoding.
fn encode(x: u32, out: &mut Vec<u8>) {
    if x < 0x80 {
        out.push(x as u8);
        return;
    }
    let mut tail = [0u8; 6];
    let mut n = 0;
    let mut x = x;
    // Largest value that still fits in the first byte.
    let mut first_max: u32 = 0x3f;
    loop {
        *at_mut(&mut tail, n) = 0x80 | (x & 0x3f) as u8;
        n += 1;
        x >>= 6;
        first_max >>= 1;
        if x <= first_max {
            break;
        }
    }
    out.push(((!first_max << 1) | x) as u8);
    out.extend(at(&tail, ..n).iter().rev());
}

/// `u_posrelat`: negative positions count from the end (before the start is 0).
fn position(pos: i64, len: usize) -> i64 {
    if pos >= 0 {
        pos
    } else if pos.unsigned_abs() > len as u64 {
        0
    } else {
        len as i64 + pos + 1
    }
}

fn char<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let mut out = Vec::new();
    for i in 0..call.nargs() {
        let c = call.check_integer(ctx, i)? as u64;
        if c > MAX_UTF as u64 {
            return Err(Error::bad_arg(i + 1, "value out of range"));
        }
        encode(c as u32, &mut out);
    }
    ctx.charge_fuel(call.nargs() as i64);
    call.ret1(ctx.str_value(&out))
}

fn codepoint<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let s = call.check_bytes(ctx, 0)?;
    let first = position(call.opt_integer(ctx, 1, 1)?, s.len());
    let last = position(call.opt_integer(ctx, 2, first)?, s.len());
    let lax = call.arg(3).is_truthy();
    if first < 1 {
        return Err(Error::bad_arg(2, "out of bounds"));
    }
    if last > s.len() as i64 {
        return Err(Error::bad_arg(3, "out of bounds"));
    }
    if first > last {
        return call.ret0();
    }
    if last - first >= i32::MAX as i64 {
        return Err(Error::runtime("string slice too long"));
    }
    let mut codes = Vec::new();
    let mut i = first as usize - 1;
    while i < last as usize {
        let (code, next) = decode(s, i, !lax).ok_or_else(|| Error::runtime(INVALID))?;
        codes.push(Value::Integer(code as i64));
        i = next;
    }
    ctx.charge_fuel(codes.len() as i64);
    call.ret(&codes)
}

fn len<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let s = call.check_bytes(ctx, 0)?;
    let first = position(call.opt_integer(ctx, 1, 1)?, s.len());
    let last = position(call.opt_integer(ctx, 2, -1)?, s.len());
    let lax = call.arg(3).is_truthy();
    if !(1 <= first && first - 1 <= s.len() as i64) {
        return Err(Error::bad_arg(2, "initial position out of bounds"));
    }
    if last > s.len() as i64 {
        return Err(Error::bad_arg(3, "final position out of bounds"));
    }
    let mut i = first as usize - 1;
    let mut n: i64 = 0;
    while (i as i64) < last {
        match decode(s, i, !lax) {
            Some((_, next)) => i = next,
            None => break,
        }
        n += 1;
    }
    // A character decoded costs an instruction.
    ctx.charge_fuel(n);
    if (i as i64) < last {
        return call.ret(&[Value::Nil, Value::Integer(i as i64 + 1)]);
    }
    call.ret1(Value::from(n))
}

fn offset<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let s = call.check_bytes(ctx, 0)?;
    let mut n = call.check_integer(ctx, 1)?;
    let default = if n >= 0 { 1 } else { s.len() as i64 + 1 };
    let pos = position(call.opt_integer(ctx, 2, default)?, s.len());
    if !(1 <= pos && pos - 1 <= s.len() as i64) {
        return Err(Error::bad_arg(3, "position out of bounds"));
    }
    let mut p = pos as usize - 1;
    if n == 0 {
        // The start of the character containing byte `p`.
        while p > 0 && is_continuation(s, p) {
            p -= 1;
        }
    } else {
        if is_continuation(s, p) {
            return Err(Error::runtime("initial position is a continuation byte"));
        }
        if n < 0 {
            while n < 0 && p > 0 {
                p -= 1;
                while p > 0 && is_continuation(s, p) {
                    p -= 1;
                }
                n += 1;
            }
        } else {
            n -= 1;
            while n > 0 && p < s.len() {
                p += 1;
                while is_continuation(s, p) {
                    p += 1;
                }
                n -= 1;
            }
        }
    }
    vm::lib::charge_bytes(ctx, p.abs_diff(pos as usize - 1));
    if n == 0 {
        call.ret1(Value::from(p as i64 + 1))
    } else {
        call.ret1(Value::Nil)
    }
}

fn codes<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let s = call.check_string(ctx, 0)?;
    let iter = call.upval(usize::from(call.arg(1).is_truthy()));
    call.ret(&[iter, Value::String(s), Value::Integer(0)])
}

fn codes_strict<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    codes_step(ctx, call, true)
}

fn codes_lax<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    codes_step(ctx, call, false)
}

/// The `codes` iterator: from the byte after the previous character's first byte, skips
/// continuation bytes and decodes the next character.
fn codes_step<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, strict: bool) -> R<'gc> {
    let s = call.check_bytes(ctx, 0)?;
    let start = match call.arg(1) {
        Value::Integer(i) => i as u64,
        _ => 0,
    };
    if start >= s.len() as u64 {
        return call.ret0();
    }
    let mut i = start as usize;
    while is_continuation(s, i) {
        i += 1;
    }
    if i >= s.len() {
        return call.ret0();
    }
    match decode(s, i, strict) {
        Some((code, _)) => call.ret(&[Value::Integer(i as i64 + 1), Value::Integer(code as i64)]),
        None => Err(Error::runtime(INVALID)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes_up_to_six_bytes() {
        for x in [
            0u32, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10FFFF, 0x200000, MAX_UTF,
        ] {
            let mut out = Vec::new();
            encode(x, &mut out);
            assert_eq!(decode(&out, 0, false), Some((x, out.len())), "{x:#x}");
        }
        let mut euro = Vec::new();
        encode(0x20AC, &mut euro);
        assert_eq!(euro, "€".as_bytes());
    }

    #[test]
    fn strict_mode_rejects_what_unicode_excludes() {
        assert_eq!(decode(b"\xED\xA0\x80", 0, true), None);
        assert_eq!(decode(b"\xED\xA0\x80", 0, false), Some((0xD800, 3)));
        assert_eq!(decode(b"\xF4\x90\x80\x80", 0, true), None);
        // Overlong and truncated sequences are invalid in both modes.
        assert_eq!(decode(b"\xC0\x80", 0, false), None);
        assert_eq!(decode(b"\xE2\x82", 0, false), None);
        assert_eq!(decode(b"\x80", 0, false), None);
        assert_eq!(decode(b"\xFF", 0, false), None);
    }

    #[test]
    fn positions_count_from_the_end() {
        assert_eq!(position(-1, 5), 5);
        assert_eq!(position(-6, 5), 0);
        assert_eq!(position(3, 5), 3);
        assert_eq!(position(i64::MIN, 5), 0);
    }
}
