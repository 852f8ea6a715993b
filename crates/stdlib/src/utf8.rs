//! The `utf8` library (Lua 5.4: up to 6-byte sequences in lax mode, strict by default).

use piccolo::{Callback, CallbackReturn, Context, Table, Value};

use crate::args::{Args, Name};

const fn n(func: &'static str) -> Name {
    Name::new("utf8", func)
}

const MAX_UTF: u64 = 0x7FFF_FFFF;
const INVALID: &str = "invalid UTF-8 code";

fn is_cont(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(|&b| b & 0xC0 == 0x80)
}

/// Decodes one sequence at `s[i..]`: the code point and the index after it.
fn decode(s: &[u8], i: usize, strict: bool) -> Option<(u64, usize)> {
    const LIMITS: [u64; 6] = [!0, 0x80, 0x800, 0x1_0000, 0x20_0000, 0x400_0000];
    let mut c = *s.get(i)? as u64;
    if c < 0x80 {
        return Some((c, i + 1));
    }
    let mut res: u64 = 0;
    let mut count = 0;
    while c & 0x40 != 0 {
        count += 1;
        let cc = s.get(i + count).copied().unwrap_or(0) as u64;
        if cc & 0xC0 != 0x80 {
            return None;
        }
        res = (res << 6) | (cc & 0x3F);
        c <<= 1;
    }
    res |= (c & 0x7F) << (count * 5);
    if count > 5 || res > MAX_UTF || res < LIMITS[count] {
        return None;
    }
    if strict && (res > 0x10FFFF || (0xD800..=0xDFFF).contains(&res)) {
        return None;
    }
    Some((res, i + count + 1))
}

fn encode(mut x: u64, out: &mut Vec<u8>) {
    if x < 0x80 {
        out.push(x as u8);
        return;
    }
    let mut tail = Vec::new();
    let mut mfb: u64 = 0x3f;
    loop {
        tail.push(0x80 | (x & 0x3f) as u8);
        x >>= 6;
        mfb >>= 1;
        if x <= mfb {
            break;
        }
    }
    out.push(((!mfb << 1) | x) as u8);
    out.extend(tail.iter().rev());
}

/// `u_posrelat`: negative positions count from the end.
fn posrelat(pos: i64, len: usize) -> i64 {
    if pos >= 0 {
        pos
    } else if pos.unsigned_abs() > len as u64 {
        0
    } else {
        len as i64 + pos + 1
    }
}

pub(crate) fn load<'gc>(ctx: Context<'gc>) {
    let utf8 = Table::new(&ctx);
    utf8.set(
        ctx,
        "charpattern",
        ctx.intern(b"[\x00-\x7F\xC2-\xFD][\x80-\xBF]*"),
    )
    .unwrap();

    let char = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("char"));
        let mut out = Vec::new();
        for i in 0..stack.len() {
            let c = a.integer(&stack, i)? as u64;
            if c > MAX_UTF {
                return Err(a.arg_error(i + 1, "value out of range"));
            }
            encode(c, &mut out);
        }
        stack.replace(ctx, ctx.intern(&out));
        Ok(CallbackReturn::Return)
    });
    utf8.set(ctx, "char", char).unwrap();

    let codepoint = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("codepoint"));
        let s = a.bytes(&stack, 0)?;
        let posi = posrelat(a.opt_integer(&stack, 1, 1)?, s.len());
        let pose = posrelat(a.opt_integer(&stack, 2, posi)?, s.len());
        let lax = stack.get(3).to_bool();
        if posi < 1 {
            return Err(a.arg_error(2, "out of bounds"));
        }
        if pose > s.len() as i64 {
            return Err(a.arg_error(3, "out of bounds"));
        }
        stack.clear();
        let mut i = posi as usize - 1;
        while (i as i64) < pose {
            let (code, next) = decode(s, i, !lax).ok_or_else(|| a.error(INVALID))?;
            stack.push_back(Value::Integer(code as i64));
            i = next;
        }
        Ok(CallbackReturn::Return)
    });
    utf8.set(ctx, "codepoint", codepoint).unwrap();

    let len = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("len"));
        let s = a.bytes(&stack, 0)?;
        let mut posi = posrelat(a.opt_integer(&stack, 1, 1)?, s.len());
        let mut posj = posrelat(a.opt_integer(&stack, 2, -1)?, s.len());
        let lax = stack.get(3).to_bool();
        posi -= 1;
        if posi < 0 || posi > s.len() as i64 {
            return Err(a.arg_error(2, "initial position out of bounds"));
        }
        posj -= 1;
        if posj >= s.len() as i64 {
            return Err(a.arg_error(3, "final position out of bounds"));
        }
        let mut count = 0i64;
        while posi <= posj {
            match decode(s, posi as usize, !lax) {
                Some((_, next)) => {
                    posi = next as i64;
                    count += 1;
                }
                None => {
                    stack.replace(ctx, (Value::Nil, posi + 1));
                    return Ok(CallbackReturn::Return);
                }
            }
        }
        stack.replace(ctx, count);
        Ok(CallbackReturn::Return)
    });
    utf8.set(ctx, "len", len).unwrap();

    let offset = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("offset"));
        let s = a.bytes(&stack, 0)?;
        let mut nth = a.integer(&stack, 1)?;
        let default = if nth >= 0 { 1 } else { s.len() as i64 + 1 };
        let mut posi = posrelat(a.opt_integer(&stack, 2, default)?, s.len());
        if posi < 1 || posi - 1 > s.len() as i64 {
            return Err(a.arg_error(3, "position out of bounds"));
        }
        posi -= 1;
        let mut p = posi as usize;
        if nth == 0 {
            while p > 0 && is_cont(s, p) {
                p -= 1;
            }
        } else {
            if is_cont(s, p) {
                return Err(a.error("initial position is a continuation byte"));
            }
            if nth < 0 {
                while nth < 0 && p > 0 {
                    loop {
                        p -= 1;
                        if !(p > 0 && is_cont(s, p)) {
                            break;
                        }
                    }
                    nth += 1;
                }
            } else {
                nth -= 1;
                while nth > 0 && p < s.len() {
                    loop {
                        p += 1;
                        if !is_cont(s, p) {
                            break;
                        }
                    }
                    nth -= 1;
                }
            }
        }
        if nth == 0 {
            stack.replace(ctx, (p + 1) as i64);
        } else {
            stack.replace(ctx, Value::Nil);
        }
        Ok(CallbackReturn::Return)
    });
    utf8.set(ctx, "offset", offset).unwrap();

    let iter = |strict: bool| {
        Callback::from_fn(&ctx, move |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("codes"));
            let s = a.bytes(&stack, 0)?;
            let mut i = stack.get(1).to_integer().unwrap_or(0) as u64 as usize;
            if i < s.len() {
                while is_cont(s, i) {
                    i += 1;
                }
            }
            if i >= s.len() {
                stack.clear();
                return Ok(CallbackReturn::Return);
            }
            match decode(s, i, strict) {
                Some((code, next)) if !is_cont(s, next) => {
                    stack.replace(ctx, ((i + 1) as i64, code as i64));
                    Ok(CallbackReturn::Return)
                }
                _ => Err(a.error(INVALID)),
            }
        })
    };
    let codes_strict = iter(true);
    let codes_lax = iter(false);
    let codes = Callback::from_fn_with(
        &ctx,
        (codes_strict, codes_lax),
        |iters, ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("codes"));
            let s = a.string(&stack, 0)?;
            if is_cont(s.as_bytes(), 0) {
                return Err(a.arg_error(1, INVALID));
            }
            let iter = if stack.get(1).to_bool() {
                iters.1
            } else {
                iters.0
            };
            stack.replace(ctx, (iter, s, 0));
            Ok(CallbackReturn::Return)
        },
    );
    utf8.set(ctx, "codes", codes).unwrap();

    ctx.set_global("utf8", utf8).unwrap();
}
